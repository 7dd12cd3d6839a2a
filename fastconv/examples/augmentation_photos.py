"""Augmentation on real photographs (shipped by scikit-image / scikit-learn, no download).

    python -m fastconv.examples.augmentation_photos [out.png]

Rows: original, mirror, random crop, colour shift, AlexNet PCA colour, rotation, shear; the
augmentations run on the background worker (BatchLoader) exactly as during training.
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fastconv.data import (  # noqa: E402
    BatchLoader,
    ColorShift,
    PCAColor,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomShear,
    resize_bilinear,
    sample_photos,
)

photos = sample_photos(size=128)
x = np.stack(list(photos.values()))
ops = {
    "mirror": RandomFlip(1.0),
    "random crop 96": lambda b, r: resize_bilinear(RandomCrop(96)(b, r), 128),
    "colour shift": ColorShift(0.15),
    "PCA colour (AlexNet)": PCAColor(std=0.5).fit(x),
    "rotation 20°": RandomRotation(20),
    "shear 0.3": RandomShear(0.3),
}
rows = [("original", x)]
for name, op in ops.items():
    (xb, _), = list(BatchLoader(x, None, len(x), shuffle=False, augment=op, seed=0).batches(0))
    rows.append((name, xb))
fig, axes = plt.subplots(len(rows), len(x), figsize=(2.2 * len(x), 2.2 * len(rows)))
for i, (name, imgs) in enumerate(rows):
    for j, img in enumerate(imgs):
        axes[i, j].imshow(np.clip(img, 0, 1))
        axes[i, j].set_xticks([])
        axes[i, j].set_yticks([])
    axes[i, 0].set_ylabel(name, fontsize=8)
fig.tight_layout()
out = sys.argv[1] if len(sys.argv) > 1 else "augmentation.png"
fig.savefig(out, dpi=100)
print(f"saved {out}")
