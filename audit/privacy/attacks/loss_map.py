"""The segmentation-specific attack (Segmentations-Leak, He et al. 2020): a small CNN reads structured loss maps.

A segmentation model's loss is a map, not a number: where on the person it is low carries more than its mean.
Training set: for every shadow model and pool image, the log(1 + loss) maps of the image and its mirror
(2 x map_size x map_size), labelled "in" when that shadow trained on the image. The CNN (two 3x3 conv blocks,
global average pooling, a linear layer) learns in/out from the shadows; its logit on the target's maps is the
score. Each image is "in" for half the shadows, so the CNN cannot learn an image's identity as its label.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from segaudit.audit.privacy.attacks.base import AttackData, AttackOutput


class LossMapNet(nn.Module):
    """[B, Q, m, m] log-loss maps -> [B] membership logits."""

    def __init__(self, queries: int = 2, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(queries, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(2 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))[:, 0]


def loss_map_cnn(data: AttackData, epochs: int = 30, batch_size: int = 128, lr: float = 3e-3) -> AttackOutput:
    assert data.inclusion is not None and data.target.maps is not None
    maps = np.log1p(data.stacked("maps"))  # [K, P, Q, m, m]
    k, p = data.inclusion.shape
    x = torch.from_numpy(maps.reshape(k * p, *maps.shape[2:]).astype(np.float32))
    y = torch.from_numpy(data.inclusion.reshape(-1).astype(np.float32))
    generator = torch.Generator().manual_seed(data.seed)
    torch.manual_seed(data.seed)
    net = LossMapNet(queries=x.shape[1])
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    criterion = nn.BCEWithLogitsLoss()
    net.train()
    final = float("nan")
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch_size):
            index = order[start:start + batch_size]
            if index.numel() < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(net(x[index]), y[index])
            loss.backward()
            optimizer.step()
            final = loss.item()
    net.eval()
    with torch.no_grad():
        target = torch.from_numpy(np.log1p(data.target.maps).astype(np.float32))
        scores = net(target).double().numpy()
    return AttackOutput(scores=scores, params={"training_maps": int(x.shape[0]), "epochs": epochs,
                                               "final_training_loss": round(final, 4)})
