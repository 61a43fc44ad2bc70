"""Output sizes: hand-worked course examples and PyTorch's own layers."""

from __future__ import annotations

import pytest

from archcalc.errors import LayerError
from archcalc.layers.window import output_length


@pytest.mark.parametrize(
    "size, kernel, stride, pad, dilation, ceil_mode, expected",
    [
        (32, 5, 1, 2, 1, False, 32),  # "same" 5x5: (32 - 5 + 4)/1 + 1
        (7, 3, 1, 0, 1, False, 5),  # CS231n: 7x7 input, 3x3 filter, stride 1 -> 5x5
        (7, 3, 2, 0, 1, False, 3),  # stride 2 -> 3x3
        (227, 11, 4, 0, 1, False, 55),  # AlexNet conv1: (227 - 11)/4 + 1
        (224, 11, 4, 2, 1, False, 55),  # torchvision AlexNet conv1: floor((224 - 11 + 4)/4) + 1
        (55, 3, 2, 0, 1, False, 27),  # AlexNet overlapping pool
        (112, 3, 2, 1, 1, False, 56),  # ResNet stem pool
        (32, 3, 1, 2, 2, False, 32),  # dilation 2: k' = 5
        (5, 2, 2, 0, 1, True, 3),  # ceil_mode: ceil((5 - 2)/2) + 1
        (6, 2, 2, 0, 1, True, 3),  # exact division: ceil changes nothing
        (14, 3, 2, 0, 1, True, 7),  # GoogLeNet pool: ceil(11/2) + 1 = 7
    ],
)
def test_output_length_hand_worked(size, kernel, stride, pad, dilation, ceil_mode, expected):
    length, _ = output_length(size, kernel, stride, pad, pad, dilation, ceil_mode)
    assert length == expected


def test_non_integer_size_gives_the_arithmetic():
    # CS231n: 7x7 input, 3x3 filter, stride 3 "doesn't fit": (7 - 3)/3 + 1 = 2.33
    length, note = output_length(7, 3, 3, 0, 0)
    assert length == 2
    assert "(7 - 3 + 2*0)/3 + 1 = 2.33333" in note
    assert "floors it to 2" in note


def test_kernel_larger_than_padded_input_is_an_error():
    with pytest.raises(LayerError, match=r"kernel 7 is larger than the padded input.*3 \+ 1 \+ 1 = 5"):
        output_length(3, 7, 1, 1, 1)


def test_ceil_mode_drops_a_window_starting_in_the_right_padding():
    torch = pytest.importorskip("torch")
    # size 4, kernel 2, stride 2, pad 1: ceil((4 + 2 - 2)/2) + 1 = 3, and the last window starts at 4 >= 4 + 1? no
    for size, kernel, stride, pad in [(4, 2, 2, 1), (5, 3, 2, 1), (6, 3, 3, 1), (9, 2, 3, 1), (7, 4, 3, 2)]:
        pool = torch.nn.MaxPool2d(kernel, stride, pad, ceil_mode=True)
        expected = pool(torch.zeros(1, 1, size, size)).shape[-1]
        assert output_length(size, kernel, stride, pad, pad, 1, True)[0] == expected, (size, kernel, stride, pad)
