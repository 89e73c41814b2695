"""The Recurrent Modulation Unit (RMU, RM-Depth Eq. 4a/4b, 5a/5b) and the Eq. 3 fusion ablation.

One RMU step fuses the fixed encoder feature F of its pyramid level into the decoder's hidden
state h (spec section 2.2):

  modulation  (w, b) = split(Conv_m([F; h])),  w = 1 + dw
              F~ = w * F + b                   (FiLM-style, driven by the hidden state)
              F' = tanh(Conv_c(F~))
  update      z = sigmoid(Conv_z([h; F']))
              h <- (1 - z) * h + z * F'        (GRU-like gate without a reset gate)

The decoder calls the same unit several times per level (weights shared across iterations); only
h changes between calls. `ConcatFusion` is the conventional decoder fusion (Eq. 3, "w/o RMU"
ablation): one concat + conv per level.
"""

from __future__ import annotations

import torch
from torch import nn

from rmdepth_ros.model.layers import conv


class RecurrentModulationUnit(nn.Module):
    """One RMU, applied as `h_next = rmu(h, feature)`.

    Args:
      feature_channels: C_f, channels of the encoder feature F.
      hidden_channels: C_h, channels of the hidden state h.
      modulation: False is the "w/o modulation" ablation (supplement Table 5): no Conv_m and
        F' = tanh(Conv_c(F)), so the hidden state no longer steers how F is read.

    Shapes: hidden (B, C_h, H, W), feature (B, C_f, H, W) -> (B, C_h, H, W). If h is in (-1, 1)
    the output is too (convex combination of h and a tanh).
    """

    def __init__(self, feature_channels: int, hidden_channels: int,
                 modulation: bool = True) -> None:
        super().__init__()
        self.feature_channels = feature_channels
        self.hidden_channels = hidden_channels
        self.modulation: nn.Conv2d | None = None
        if modulation:
            # Linear outputs: the RMU figure shows no activation on w or b.
            self.modulation = conv(feature_channels + hidden_channels, 2 * feature_channels,
                                   activation=False)
            # Zero start means w = 1, b = 0: a fresh RMU passes F through unmodulated, so the
            # recurrence starts as a plain gated update and learns the modulation from there.
            nn.init.zeros_(self.modulation.weight)
            nn.init.zeros_(self.modulation.bias)
        self.candidate = conv(feature_channels, hidden_channels, activation=False)  # Conv_c
        self.gate = conv(2 * hidden_channels, hidden_channels, activation=False)  # Conv_z

    def modulation_params(self, hidden: torch.Tensor,
                          feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel scale w and shift b (Eq. 4a), each (B, C_f, H, W).

        Without modulation this is the identity, w = 1 and b = 0.
        """
        if self.modulation is None:
            return torch.ones_like(feature), torch.zeros_like(feature)
        delta_w, b = self.modulation(torch.cat([feature, hidden], dim=1)).chunk(2, dim=1)
        # Predicting dw rather than w makes the zero initialisation mean "identity".
        return 1.0 + delta_w, b

    def forward(self, hidden: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        if self.modulation is None:
            modulated = feature
        else:
            w, b = self.modulation_params(hidden, feature)
            modulated = w * feature + b  # Eq. 4a
        candidate = torch.tanh(self.candidate(modulated))  # Eq. 4b: F'
        z = torch.sigmoid(self.gate(torch.cat([hidden, candidate], dim=1)))  # Eq. 5a
        return (1.0 - z) * hidden + z * candidate  # Eq. 5b


class ConcatFusion(nn.Module):
    """Conventional encoder-decoder fusion (Eq. 3): h <- tanh(conv3x3([h; F])).

    Same call signature as `RecurrentModulationUnit` so the decoder can swap one for the other.
    tanh keeps the hidden state in the same (-1, 1) range as the RMU path, so heads and level
    transitions see the same kind of input in both variants and only the fusion differs.

    Shapes: hidden (B, C_h, H, W), feature (B, C_f, H, W) -> (B, C_h, H, W).
    """

    def __init__(self, feature_channels: int, hidden_channels: int) -> None:
        super().__init__()
        self.feature_channels = feature_channels
        self.hidden_channels = hidden_channels
        self.fuse = conv(hidden_channels + feature_channels, hidden_channels, activation=False)

    def forward(self, hidden: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fuse(torch.cat([hidden, feature], dim=1)))
