"""The segmentation-specific attack (Segmentations-Leak, He et al. 2020): a small CNN reads structured loss maps.

A segmentation model's loss is a map, not a number: where on the person it is low carries more than its mean.
Training set: for every shadow model and pool image, the log(1 + loss) maps of the image and its mirror
(2 x map_size x map_size), labelled "in" when that shadow trained on the image. The CNN (two 3x3 conv blocks,
global average pooling, a linear layer) learns in/out from the shadows, with early stopping on held-out images;
its logit on the target's maps is the score (a monotone calibration would not change any rank-based figure).
Each image is "in" for half the shadows, so the CNN cannot learn an image's identity as its label.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from segaudit.audit.privacy.attacks.base import AttackData, AttackOutput
from segaudit.audit.privacy.rating import delong


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


def loss_map_cnn(data: AttackData, epochs: int = 30, batch_size: int = 128, lr: float = 3e-3,
                 patience: int = 5) -> AttackOutput:
    """Train on the shadows' maps of 80 % of the pool images, stop early on the other 20 % (by image, so the
    validation images are unseen), keep the best epoch; its validation AUC says whether it learned anything.
    An attack whose validation AUC does not clear 0.5 by two standard errors is marked `learned: false` and the
    audit leaves it out of the rating (it would only add a test to the family)."""
    assert data.inclusion is not None and data.target.maps is not None
    maps = np.log1p(data.stacked("maps"))  # [K, P, Q, m, m]
    k, p = data.inclusion.shape
    rng = np.random.default_rng([data.seed, 0xC22])
    validation = np.zeros(p, dtype=bool)
    validation[rng.permutation(p)[: max(1, p // 5)]] = True
    x_train, y_train = _rows(maps, data.inclusion, ~validation)
    x_val, y_val = _rows(maps, data.inclusion, validation)
    generator = torch.Generator().manual_seed(data.seed)
    torch.manual_seed(data.seed)
    net = LossMapNet(queries=x_train.shape[1])
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    criterion = nn.BCEWithLogitsLoss()
    best_loss, best_state, best_epoch, stale = float("inf"), None, 0, 0
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(x_train.shape[0], generator=generator)
        for start in range(0, x_train.shape[0], batch_size):
            index = order[start:start + batch_size]
            if index.numel() < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            criterion(net(x_train[index]), y_train[index]).backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            val_loss = criterion(net(x_val), y_val).item()
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, stale = val_loss, epoch + 1, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if stale >= patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    with torch.no_grad():
        val_scores = net(x_val).double().numpy()
        target = torch.from_numpy(np.log1p(data.target.maps).astype(np.float32))
        scores = net(target).double().numpy()
    labels = y_val.numpy().astype(bool)
    val_auc, val_se = delong(val_scores, labels) if labels.any() and not labels.all() else (0.5, 0.0)
    learned = bool(val_auc - 2 * val_se > 0.5)
    notes = [] if learned else [f"loss-map-cnn learned nothing on the shadows (validation AUC {val_auc:.3f}, "
                                f"{y_val.numel()} maps): left out of the rating"]
    return AttackOutput(scores=scores, params={"training_maps": int(x_train.shape[0]),
                                               "validation_maps": int(x_val.shape[0]), "epochs_run": epoch + 1,
                                               "best_epoch": best_epoch, "validation_loss": round(best_loss, 4),
                                               "validation_auc": round(val_auc, 4), "learned": learned},
                        notes=notes)


def _rows(maps: np.ndarray, inclusion: np.ndarray, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Every shadow's maps of the selected images [K * n, Q, m, m] and their in/out labels."""
    selected = maps[:, images]
    x = torch.from_numpy(selected.reshape(-1, *maps.shape[2:]).astype(np.float32))
    y = torch.from_numpy(inclusion[:, images].reshape(-1).astype(np.float32))
    return x, y
