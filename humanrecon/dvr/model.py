"""The DVR scene model: a shape network and a texture field over one scene box.

Shape: IGR's network (:func:`humanrecon.implicit.networks.igr_network`; softplus, geometric
initialisation as a sphere, Fourier features) on points normalised to the box (centre 0,
half-diagonal 1). Its output ``f`` is a signed-distance-like value, surface at 0, inside
below (:data:`humanrecon.dvr.surface.SDF`); the occupancy probability of DVR's losses is
``sigmoid(−f / temperature)``, so the level ``f = 0`` is DVR's ``τ = 0.5``. Texture: an MLP
on Fourier features of the normalised point, RGB in ``[0, 1]``.

World units (metres) everywhere outside; ``bounds (2, 3)`` is the box the scene lives in.
"""

from __future__ import annotations

import torch
from torch import nn

from humanrecon.dvr.config import CHECKPOINT  # noqa: F401 - re-exported: the run folder's file
from humanrecon.dvr.render import RENDER_SAMPLES
from humanrecon.dvr.surface import FIELD_BATCH, SDF, SurfaceLevel
from humanrecon.implicit.networks import FourierFeatures, ImplicitMLP
from humanrecon.io.checkpoints import Checkpointed

CHECKPOINT_KIND = "dvr"


class DVRModel(Checkpointed, nn.Module):
    """Shape and texture of one scene.

    Args:
        bounds: ``(2, 3)`` scene box ``[min, max]`` (metres).
        hidden, layers: shape network width and depth; texture_hidden, texture_layers: the
            texture MLP's.
        frequencies: Fourier frequencies of both networks' inputs.
        init_radius: radius of the starting sphere, as a fraction of the half-diagonal.
        temperature: occupancy = sigmoid(−f / temperature).

    Checkpoints: ``save``, ``DVRModel.load`` (eval mode), ``DVRModel.restore``
    (:class:`~humanrecon.io.checkpoints.Checkpointed`).
    """

    surface: SurfaceLevel = SDF
    #: the shape value is a distance (eikonal-trained): searches may take the coarse march
    #: of :func:`humanrecon.dvr.surface.find_surface`
    distance_like = True
    checkpoint_kind = CHECKPOINT_KIND

    def __init__(self, bounds, hidden: int = 128, layers: int = 6, texture_hidden: int = 128,
                 texture_layers: int = 4, frequencies: int = 6, init_radius: float = 0.5,
                 temperature: float = 0.01) -> None:
        super().__init__()
        bounds = torch.as_tensor(bounds, dtype=torch.float32).reshape(2, 3)
        self.settings = {"bounds": bounds.tolist(), "hidden": hidden, "layers": layers,
                         "texture_hidden": texture_hidden, "texture_layers": texture_layers,
                         "frequencies": frequencies, "init_radius": init_radius, "temperature": temperature}
        self.register_buffer("bounds", bounds)
        self.register_buffer("centre", bounds.mean(0))
        self.register_buffer("radius", (bounds[1] - bounds[0]).norm() / 2)
        self.temperature = temperature
        self._occupied: torch.Tensor | None = None  # the box rendering searches (render_image)
        #: marching samples per ray of :meth:`render_image` (not a setting: fewer for quick looks)
        self.render_samples = RENDER_SAMPLES
        self.shape = ImplicitMLP(0, hidden, layers, activation="softplus", geometric_init=True,
                                 init_radius=init_radius, encoding=FourierFeatures(frequencies, 2.0))
        encoding = FourierFeatures(frequencies, 2.0)
        blocks: list[nn.Module] = []
        width = encoding.out_dim
        for _ in range(texture_layers):
            blocks += [nn.Linear(width, texture_hidden), nn.ReLU()]
            width = texture_hidden
        self.texture = nn.Sequential(encoding, *blocks, nn.Linear(width, 3))

    def normalise(self, points: torch.Tensor) -> torch.Tensor:
        """World points ``(M, 3)`` -> the networks' frame (box centre 0, half-diagonal 1)."""
        return (points - self.centre) / self.radius

    def sdf(self, points: torch.Tensor) -> torch.Tensor:
        """``(M,)`` shape values at world ``points (M, 3)`` in metres (surface 0, inside < 0)."""
        return self.shape(self.normalise(points)[None])[0] * self.radius

    def occupancy(self, points: torch.Tensor) -> torch.Tensor:
        """``(M,)`` occupancy probability (DVR's field; 0.5 on the surface)."""
        return torch.sigmoid(-self.sdf(points) / self.temperature)

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        """``(M,)`` logits of :meth:`occupancy` (for binary cross-entropy)."""
        return -self.sdf(points) / self.temperature

    def color(self, points: torch.Tensor) -> torch.Tensor:
        """``(M, 3)`` RGB in [0, 1] of the texture field at world ``points (M, 3)``."""
        return torch.sigmoid(self.texture(self.normalise(points)))

    def normals(self, points: torch.Tensor) -> torch.Tensor:
        """``(M, 3)`` unit outward normals (the shape's gradient), without a graph."""
        with torch.enable_grad():
            p = points.detach().requires_grad_(True)
            grad, = torch.autograd.grad(self.sdf(p).sum(), p)
        return grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    def train(self, mode: bool = True) -> "DVRModel":
        """As ``nn.Module.train``; also forgets the box that rendering searches (it is
        recomputed from the current shape)."""
        self._occupied = None
        return super().train(mode)

    # ------------------------------------------------------------------ rendering, meshing
    def render_image(self, camera, background: float = 1.0, samples: int | None = None) -> dict[str, torch.Tensor]:
        """Render one camera (batch 1) by the secant surface search, inside the box the
        shape occupies (:func:`humanrecon.dvr.render.occupied_box`, computed once per
        eval-mode model). Returns, on the model's device: ``rgb (H, W, 3)`` over the grey
        ``background``, ``opacity (H, W)`` (1 where the ray hits the surface, else 0),
        ``depth (H, W)`` (metres along the ray, 0 off the surface) and ``normals (H, W, 3)``
        (world unit normals, 0 off the surface)."""
        from humanrecon.dvr.render import occupied_box, render_rays

        if self._occupied is None or self.training:
            self._occupied = occupied_box(self)
        camera = camera.to(device=self.bounds.device)
        origins, directions = camera[0].rays()
        h, w = camera.height, camera.width
        out = render_rays(self, origins.reshape(-1, 3), directions.reshape(-1, 3), background=background,
                          samples=samples or self.render_samples, box=self._occupied)
        return {"rgb": out["rgb"].reshape(h, w, 3), "opacity": out["hit"].reshape(h, w).to(out["rgb"].dtype),
                "depth": out["depth"].reshape(h, w), "normals": out["normals"].reshape(h, w, 3)}

    def extract_mesh(self, resolution: int = 256, *, initial_resolution: int = 32, progress: bool = False,
                     colors: bool = True):
        """The zero level set of :meth:`sdf` in the scene box by the shared hierarchical
        extractor (``resolution = initial_resolution · 2^k`` cells per axis): an
        :class:`~humanrecon.geometry.meshing.ExtractionResult` (world metres, normals
        outwards, closed: the box faces count as outside) whose ``vertex_colors (V, 3)``
        (float32 RGB in [0, 1]) are the texture field at the vertices (``colors=False``:
        None). ``InputError`` when the box holds no surface."""
        from humanrecon.geometry.meshing import extract_mesh

        result = extract_mesh(self.sdf, self.bounds.detach().cpu().numpy(), resolution, 0.0, inside="negative",
                              initial_resolution=min(initial_resolution, resolution), device=self.bounds.device,
                              progress=progress, batch_points=FIELD_BATCH)
        if colors:
            result.vertex_colors = self.vertex_colors(result.mesh.vertices)
        return result

    @torch.no_grad()
    def vertex_colors(self, vertices, chunk: int = 65536):
        """The texture field's RGB ``(V, 3)`` float32 numpy in [0, 1] at world ``vertices
        (V, 3)`` (metres; numpy or torch), ``chunk`` points at a time."""
        import numpy as np

        points = torch.as_tensor(np.asarray(vertices), dtype=torch.float32, device=self.bounds.device)
        out = [self.color(points[s:s + chunk]).cpu() for s in range(0, len(points), chunk)]
        return torch.cat(out).numpy() if out else np.zeros((0, 3), np.float32)
