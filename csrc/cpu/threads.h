// One thread-count setting for every OpenMP region in the library.
#pragma once

namespace fc {

int num_threads();            // the count every parallel region uses
void set_num_threads(int n);  // n >= 1
int max_threads();            // what OpenMP would use by default

}  // namespace fc
