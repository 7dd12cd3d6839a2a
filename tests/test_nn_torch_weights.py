"""PyTorch weights load into the zoo and give PyTorch's outputs (NCHW/OIHW -> NHWC/HWIO)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

from fastconv import models, nn

torch = pytest.importorskip("torch")
tnn = torch.nn


class BasicBlock(tnn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                             tnn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class TorchResNet18(tnn.Module):
    """torchvision's resnet18, written out (torchvision is not a dependency)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, width in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", tnn.Sequential(BasicBlock(cin, width, stride),
                                                          BasicBlock(width, width, 1)))
            cin = width
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def _randomize_bn_stats(module):
    g = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, tnn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(c, generator=g) - 0.5)


def test_resnet18_from_torch_matches_torch():
    torch.manual_seed(0)
    tm = TorchResNet18(10).eval()
    _randomize_bn_stats(tm)
    model = models.resnet18((32, 32, 3), 10)
    nn.load_torch_state_dict(model, tm.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    assert_close(model.predict(x), ref, rtol=1e-4, atol=1e-4)


def test_flatten_order_and_by_order_names():
    torch.manual_seed(1)
    tm = tnn.Sequential(tnn.Conv2d(3, 4, 3), tnn.ReLU(), tnn.Flatten(), tnn.Linear(4 * 5 * 6, 3))
    model = nn.Sequential([nn.Input((7, 8, 3)), nn.Conv2D(4, 3, activation="relu"),
                           nn.Flatten(), nn.Dense(3)])
    with pytest.raises(KeyError, match="not in the PyTorch state dict"):
        nn.load_torch_state_dict(model, tm.state_dict())
    nn.load_torch_state_dict(model, tm.state_dict(), by_order=True)
    x = np.random.default_rng(1).standard_normal((2, 7, 8, 3)).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    assert_close(model.predict(x), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="by_order"):
        nn.load_torch_state_dict(model, {"a.weight": np.zeros(1)}, by_order=True)
