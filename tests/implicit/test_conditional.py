"""Point-cloud-conditioned occupancy networks on a family of ellipsoids (analytic inside
test as the oracle): unseen shapes are completed from sparse noisy clouds, and the
prediction follows the cloud."""

from __future__ import annotations

import torch

from humanrecon.geometry.metrics import volumetric_iou
from humanrecon.implicit.conditional import PointCloudOccupancy, TrainingShape, noisy_cloud, train_point_conditioned
from humanrecon.implicit.train import TrainConfig
from tests import oracles


def ellipsoid(radii: torch.Tensor, generator: torch.Generator) -> TrainingShape:
    directions = torch.nn.functional.normalize(torch.randn(2000, 3, generator=generator), dim=-1)
    surface = directions * radii

    def queries(n, gen):  # as ONet's training data: half uniform in the box, half near the surface
        uniform = (torch.rand(n - n // 2, 3, generator=gen) * 2 - 1) * 0.5
        near = surface[torch.randint(len(surface), (n // 2,), generator=gen)]
        points = torch.cat([uniform, near + 0.02 * torch.randn(n // 2, 3, generator=gen)])
        return points, inside(points)

    inside_test = oracles.on_torch(oracles.ellipsoid_inside, radii=radii.tolist())

    def inside(points):
        return inside_test(points).float()
    shape = TrainingShape(surface, queries)
    shape.inside = inside
    return shape


def random_radii(n, generator):
    return 0.1 + 0.3 * torch.rand(n, 3, generator=generator)


def test_completes_unseen_ellipsoids_from_their_clouds(tmp_path):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    shapes = [ellipsoid(r, gen) for r in random_radii(64, gen)]
    model = PointCloudOccupancy(c_dim=32, encoder_hidden=64, decoder_hidden=64, decoder_blocks=3)
    train_point_conditioned(model, shapes, TrainConfig(steps=600, batch_points=2048, lr=3e-3, progress=False),
                            cloud_points=256)
    model.eval()
    test_gen = torch.Generator().manual_seed(123)
    unseen = [ellipsoid(r, test_gen) for r in random_radii(6, test_gen)]
    ious, swapped = [], []
    with torch.no_grad():
        for i, shape in enumerate(unseen):
            points = (torch.rand(20_000, 3, generator=test_gen) * 2 - 1) * 0.5
            occupancy = shape.inside(points)
            own = noisy_cloud(shape.surface, 256, 0.005, test_gen)[None]
            other = noisy_cloud(unseen[(i + 1) % len(unseen)].surface, 256, 0.005, test_gen)[None]
            ious.append(volumetric_iou(model(own, points[None])[0] > 0, occupancy > 0))
            swapped.append(volumetric_iou(model(other, points[None])[0] > 0, occupancy > 0))
    mean, mean_swapped = sum(ious) / len(ious), sum(swapped) / len(swapped)
    assert min(ious) > 0.6 and mean > 0.72, ious  # a small network after ~20 s of training
    assert mean > mean_swapped + 0.15, (ious, swapped)  # the cloud decides the shape
    restored = PointCloudOccupancy.load(model.save(tmp_path / "pc.pt")).eval()
    with torch.no_grad():
        assert torch.equal(restored(own, points[None]), model(own, points[None]))
