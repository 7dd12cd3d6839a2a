"""Few-shot transfer learning on the digits: pretrain LeNet-5 on digits 0-4, then learn 5-9
from 1, 2 and 5 images per class with the pretrained conv layers frozen and a new linear head,
against the same network trained from scratch on the same images. Both pick their lr from the
same grid on separate selection draws; the table is over 8 random evaluation draws (see
fastconv.train.transfer.transfer_digits).

    python -m fastconv.examples.transfer_digits
"""

import numpy as np

from fastconv.train.transfer import transfer_digits

r = transfer_digits(verbose=1)
print(f"pretrained on 0-4: held-out accuracy {r['source_accuracy']:.3f} "
      f"({r['pretrain_seconds']:.0f} s); total {r['seconds']:.0f} s")
print("images/class  transfer (mean, min-max)   scratch (mean, min-max)   draws won")
for n in r["frozen"]:
    t, s = np.array(r["frozen"][n]), np.array(r["scratch"][n])
    print(f"{n:>12}  {t.mean():.3f} ({t.min():.3f}-{t.max():.3f})      "
          f"{s.mean():.3f} ({s.min():.3f}-{s.max():.3f})      "
          f"{int((t > s).sum())}/{len(t)}")
