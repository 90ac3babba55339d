"""Procedural photo-like car-damage scenes (numpy + OpenCV) with exact masks, for bootstrapping.

A side view of a car body, seen at a random zoom: painted panels shaded by an environment
reflection (sky, skyline, ground: the horizon line that runs along real car paint), panel gaps,
windows, lamps, tyres, a blurred background, camera noise and JPEG. Damage is rendered the way
it looks in photos: dents bend the reflection, scratches expose primer or metal, cracks branch,
glass shatters in a spider web, lamps lose pieces of lens, a flat tyre sags and bulges. Every
image is a pure function of ``(seed, index)``.

CLI: ``python -m ml.synth --out DIR --n N --seed S --size 512 [--gallery PATH]``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ml.coco import Region, Sample, write_coco
from ml.labels import DEFAULT_LABEL_MAP, LabelMap
from ml.synth_damage import DAMAGE_TYPES
from ml.synth_scene import Scene, primary_for, render_scene, scene_rng

# The renderer lives in ml.synth_draw (primitives), ml.synth_env (sky, skyline, ground),
# ml.synth_car (the undamaged car), ml.synth_damage (damage layers) and ml.synth_scene (one
# scene); this module writes data sets and galleries from it and is the public face.
__all__ = [
    "DAMAGE_TYPES",
    "Scene",
    "generate",
    "main",
    "overlay",
    "primary_for",
    "render_gallery",
    "render_scene",
    "scene_rng",
]

logger = logging.getLogger(__name__)


def generate(
    out_dir: str | Path,
    n: int,
    *,
    seed: int = 0,
    size: int = 512,
    label_map: LabelMap = DEFAULT_LABEL_MAP,
    progress: bool = True,
) -> list[Sample]:
    """Write ``images/*.jpg``, ``annotations.json`` (COCO) and ``label_map.json`` to ``out_dir``."""
    from tqdm import tqdm

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    samples = []
    for i in tqdm(range(n), desc="synth", unit="img", disable=not progress):
        scene = render_scene(
            scene_rng(seed, i), size, label_map=label_map, primary=primary_for(seed, i, label_map)
        )
        path = out / "images" / f"{i:06d}.jpg"
        path.write_bytes(scene.jpeg)
        samples.append(Sample(path, size, size, scene.regions, image_id=i + 1))
    write_coco(samples, label_map, out / "annotations.json")
    label_map.to_json(out / "label_map.json")
    logger.info("wrote %d images to %s", n, out)
    return samples


def overlay(image: np.ndarray, regions: Sequence[Region], label_map: LabelMap) -> np.ndarray:
    """Image with translucent class colours and outlines, for galleries and review."""
    out = image.astype(np.float32)
    for reg in regions:
        rgb = (
            np.float32(label_map.by_id(reg.class_id).rgb)
            if reg.class_id
            else np.float32([0, 158, 115])
        )
        out[reg.mask] = out[reg.mask] * 0.55 + rgb * 0.45
        cnt, _ = cv2.findContours(
            reg.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(out, cnt, -1, tuple(float(c) for c in rgb), 1, cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)


def render_gallery(
    path: str | Path,
    *,
    seed: int = 0,
    size: int = 384,
    rows: int = 3,
    cols: int = 4,
    label_map: LabelMap = DEFAULT_LABEL_MAP,
) -> None:
    """Grid of synthetic photos; each tile's right half shows the masks over the photo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from PIL import Image

    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.6, rows * 3.75), dpi=100)
    for i, ax in enumerate(axes.flat):
        scene = render_scene(
            scene_rng(seed, i), size, label_map=label_map, primary=primary_for(seed, i, label_map)
        )
        tile = scene.image.copy()
        tile[:, size // 2 :] = overlay(scene.image, scene.regions, label_map)[:, size // 2 :]
        tile[:, size // 2] = 255
        ax.imshow(tile)
        pairs = zip(scene.names, scene.regions, strict=True)
        title = ", ".join(f"{nm} ({r.severity})" for nm, r in pairs) or "no damage"
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=c.colour, label=c.name) for c in label_map.classes]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    fig.suptitle("ml.synth: synthetic photos (left half) and their masks (right half)", fontsize=11)
    fig.tight_layout(rect=(0, 0.035, 1, 0.98))
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # an adaptive palette (plus the exact class colours, so the legend stays true) keeps the
    # PNG small enough for a repository
    im = Image.fromarray(np.ascontiguousarray(rgb))
    fixed = [c.rgb for c in label_map.classes] + [(0, 0, 0), (255, 255, 255)]
    adaptive = im.quantize(256 - len(fixed), method=Image.Quantize.MEDIANCUT).getpalette()
    colours = [v for c in fixed for v in c] + adaptive[: 3 * (256 - len(fixed))]
    pal = Image.new("P", (1, 1))
    pal.putpalette(colours + [0] * (768 - len(colours)))
    im.quantize(palette=pal, dither=Image.Dither.NONE).save(path, optimize=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.synth", description=__doc__)
    parser.add_argument("--out", type=Path, help="output folder (images/ + annotations.json)")
    parser.add_argument("--n", type=int, default=100, help="number of images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512, help="square image side in px")
    parser.add_argument("--label-map", type=Path, help="label map JSON (default: cardd-6)")
    parser.add_argument("--gallery", type=Path, help="also write a 4x3 gallery PNG here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    lm = LabelMap.from_json(args.label_map) if args.label_map else DEFAULT_LABEL_MAP
    if args.out is None and args.gallery is None:
        parser.error("give --out and/or --gallery")
    if args.out is not None:
        generate(args.out, args.n, seed=args.seed, size=args.size, label_map=lm)
    if args.gallery is not None:
        render_gallery(args.gallery, seed=args.seed, label_map=lm)
        logger.info("gallery written to %s", args.gallery)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
