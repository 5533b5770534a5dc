"""How ``inputs=`` becomes the forward call's arguments (``flopscope.profile`` docstring): a
tensor is the argument, a tuple the positional arguments, a dict the keyword arguments, and a
list is one argument when ``forward`` takes exactly one required positional argument (as
``model([img1, img2])`` for torchvision's detection models), the positional arguments
otherwise."""

from __future__ import annotations

import pytest

import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn


class Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, a, b):
        return self.fc(a) + self.fc(b)


class Many(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, xs, scale=None):
        return torch.cat([self.fc(x) for x in xs])


def test_a_list_is_one_argument_when_forward_takes_one():
    m = Many()
    p = flopscope.profile(m, [torch.randn(2, 8), torch.randn(3, 8)])
    # Both tensors went through fc: (2 + 3) rows × 8 × 4 MACs.
    assert p.macs == (2 + 3) * 8 * 4
    assert [i["name"] for i in p.to_dict()["inputs"]] == ["input[0]", "input[1]"]


def test_a_list_is_the_arguments_when_forward_takes_several():
    p = flopscope.profile(Two(), [torch.randn(2, 8), torch.randn(2, 8)])
    assert p.macs == 2 * (2 * 8 * 4)
    # A tuple is always the positional arguments.
    assert flopscope.profile(Two(), (torch.randn(2, 8), torch.randn(2, 8))).macs == p.macs


def test_torchvision_detection_takes_its_list_of_images():
    tv = requires("torchvision", "torchvision is not installed")
    m = tv.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None).eval()
    images = [torch.rand(3, 320, 320), torch.rand(3, 240, 300)]
    p = flopscope.profile(m, images)
    assert p.params == sum(t.numel() for t in m.parameters())
    assert [i["name"] for i in p.to_dict()["inputs"]] == ["input[0]", "input[1]"]
    assert p.macs > 0 and not p.unsupported
