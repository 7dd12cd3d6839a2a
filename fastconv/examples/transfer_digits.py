"""Transfer learning on the digits: pretrain LeNet-5 on digits 0-4, then learn 5-9 from two
images per class (new head, last 3 parameter layers fine-tuned), against training the same
network from scratch on those 10 images. The margin is small on this easy dataset (see
fastconv.train.transfer.transfer_digits).

    python -m fastconv.examples.transfer_digits
"""

from fastconv.train.transfer import transfer_digits

r = transfer_digits(per_class=2, verbose=0)
print(f"pretrained on 0-4: held-out accuracy {r['source_accuracy']:.3f} "
      f"({r['pretrain_seconds']:.0f} s)")
print(f"5-9 from {int(r['train_images'])} images, held-out accuracy: "
      f"transfer {r['transfer_accuracy']:.3f}  vs  scratch {r['scratch_accuracy']:.3f}")
