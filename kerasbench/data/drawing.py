"""Drawing primitives for the synthetic demo images: coordinate grids, posed shapes,
supersampled anti-aliasing and the face drawing shared by the faces, FER2013 and Down
syndrome demo sets. Each study's ``demo.py`` draws its own pictures with these."""

from __future__ import annotations

import numpy as np

# Images are drawn at twice their size and box-filtered down, which anti-aliases edges.
_SUPERSAMPLE = 2


def finish_image(canvas: np.ndarray, size: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Supersampled float canvas -> uint8 image of ``size`` with pixel noise."""
    from PIL import Image

    channels = canvas.shape[2] if canvas.ndim == 3 else 1
    clipped = np.clip(canvas, 0, 255).astype(np.uint8)
    image = Image.fromarray(clipped).resize((size, size), Image.Resampling.BOX)
    out = np.asarray(image, dtype=np.float32)
    out = out + rng.normal(0.0, noise, size=out.shape).astype(np.float32)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out if channels > 1 else out.reshape(size, size)


# --------------------------------------------------------------------------- geometry


def coordinate_grid(size: int) -> tuple:
    n = size * _SUPERSAMPLE
    c = ((np.arange(n, dtype=np.float32) + 0.5) / n) * 2.0 - 1.0
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return xx, yy


def posed_coordinates(xx, yy, cx, cy, scale, angle, flip=False):
    """Grid coordinates in the object's own frame (u right, v down, unit ~ half image)."""
    ca, sa = np.cos(angle), np.sin(angle)
    dx, dy = xx - cx, yy - cy
    u = (ca * dx + sa * dy) / scale
    v = (-sa * dx + ca * dy) / scale
    return (-u if flip else u), v


def ellipse(u, v, cu, cv, ru, rv):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def rect(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def quad(u, v, v0, v1, top, bottom):
    """Region between v0 and v1 whose left/right edges go linearly from top to bottom."""
    t = (v - v0) / (v1 - v0)
    left = top[0] + (bottom[0] - top[0]) * t
    right = top[1] + (bottom[1] - top[1]) * t
    return (t >= 0) & (t <= 1) & (u >= left) & (u <= right)


def capsule(u, v, p0, p1, r):
    """Points within r of the segment p0-p1 (a bar with rounded ends)."""
    (u0, v0), (u1, v1) = p0, p1
    du, dv = u1 - u0, v1 - v0
    t = np.clip(((u - u0) * du + (v - v0) * dv) / (du * du + dv * dv + 1e-12), 0.0, 1.0)
    return (u - u0 - t * du) ** 2 + (v - v0 - t * dv) ** 2 <= r * r


def curve(u, v, cu, cv, half_width, bend, thickness, skew=0.0):
    """A bent line: v = cv - bend * x^2 + skew * x for x = (u - cu) / half_width in [-1, 1].

    Positive ``bend`` lifts the ends (a smile); negative drops them (a frown).
    """
    x = (u - cu) / half_width
    centre = cv - bend * x * x + skew * x
    return (np.abs(x) <= 1.0) & (np.abs(v - centre) <= thickness)


def ramp(xx, yy, angle, amount):
    """Linear lighting across the image, in grey levels, centred on zero."""
    return amount * (np.cos(angle) * xx + np.sin(angle) * yy)



def face_template(rng: np.random.Generator) -> dict:
    return {
        "head_rx": rng.uniform(0.5, 0.66),
        "head_ry": rng.uniform(0.7, 0.86),
        "skin": rng.uniform(110, 210),
        "hair": rng.uniform(15, 95),
        "hairline": rng.uniform(-0.55, -0.25),
        "hair_volume": rng.uniform(1.0, 1.18),
        "background": rng.uniform(30, 230),
        "eye_dx": rng.uniform(0.17, 0.3),
        "eye_v": rng.uniform(-0.2, -0.02),
        "eye_r": rng.uniform(0.055, 0.1),
        "eye_tilt": rng.uniform(-0.12, 0.12),
        "eye_dark": rng.uniform(5, 60),
        "brow_gap": rng.uniform(0.1, 0.2),
        "brow_width": rng.uniform(0.025, 0.05),
        "brow_tilt": rng.uniform(-0.06, 0.06),
        "nose_len": rng.uniform(0.14, 0.3),
        "nose_w": rng.uniform(0.05, 0.11),
        "mouth_v": rng.uniform(0.32, 0.5),
        "mouth_w": rng.uniform(0.13, 0.3),
        "mouth_t": rng.uniform(0.02, 0.045),
        "mouth_dark": rng.uniform(20, 90),
        "glasses": bool(rng.random() < 0.25),
    }


def draw_face(
    t: dict,
    size: int,
    rng: np.random.Generator,
    *,
    bend: float = 0.0,
    skew: float = 0.0,
    mouth_open: float = 0.0,
    mouth_round: bool = False,
    teeth: bool = False,
    brow_raise: float = 0.0,
    brow_inner: float = 0.0,
    eye_scale: float = 1.0,
    blink: bool = False,
    nose_wrinkle: bool = False,
    pose: float = 0.06,
    light: float = 45.0,
    noise: float = 5.0,
    tint: tuple | None = None,
) -> np.ndarray:
    """One face from template ``t``; keyword arguments set the expression."""
    xx, yy = coordinate_grid(size)
    u, v = posed_coordinates(
        xx,
        yy,
        rng.normal(0, pose),
        rng.normal(0, pose),
        rng.uniform(0.93, 1.07),
        rng.normal(0, 0.1),
    )
    turn = rng.normal(0, 0.05)  # features slide sideways as the head turns
    canvas = np.full(xx.shape, t["background"], dtype=np.float32)
    canvas += rng.normal(0, 8)
    rx, ry = t["head_rx"], t["head_ry"]
    hair_back = ellipse(u, v, 0, -0.05, rx * t["hair_volume"], ry * 1.02)
    head = ellipse(u, v, 0, 0.02, rx, ry)
    canvas[hair_back & (v < 0.1)] = t["hair"]
    skin = t["skin"] + rng.normal(0, 6)
    canvas[head] = skin
    canvas[head & (v < t["hairline"] + 0.05 * np.sin(3 * u))] = t["hair"]
    for side in (-1, 1):
        canvas[ellipse(u, v, side * rx, 0.0, 0.07, 0.14) & ~head] = skin - 12  # ears
    fu = u - turn
    er = t["eye_r"] * eye_scale
    for side in (-1, 1):
        cu, cv = side * t["eye_dx"], t["eye_v"]
        # Rotating each eye the opposite way lifts (or drops) both outer corners.
        tilt = -side * t["eye_tilt"]
        eu = (fu - cu) * np.cos(tilt) + (v - cv) * np.sin(tilt)
        ev = -(fu - cu) * np.sin(tilt) + (v - cv) * np.cos(tilt)
        if blink:
            canvas[curve(eu, ev, 0, 0, er * 1.2, 0.0, 0.012)] = t["eye_dark"]
        else:
            canvas[ellipse(eu, ev, 0, 0, er * 1.3, er * 0.8)] = 235
            canvas[ellipse(eu, ev, 0, 0, er * 0.55, er * 0.55)] = t["eye_dark"]
        inner = side * t["brow_gap"] * 0.6
        outer = side * (t["eye_dx"] + er * 1.5)
        bv = t["eye_v"] - er - 0.08 - brow_raise
        brow = capsule(
            fu,
            v,
            (inner, bv - brow_inner),
            (outer, bv - t["brow_tilt"]),
            t["brow_width"],
        )
        canvas[brow & head] = t["hair"] * 0.8
        if t["glasses"]:
            ring = ellipse(fu, v, cu, cv, er * 2.0, er * 1.6) & ~ellipse(
                fu, v, cu, cv, er * 1.75, er * 1.35
            )
            canvas[ring] = 25
    nose_top = t["eye_v"] + 0.05
    nose = quad(
        fu, v, nose_top, nose_top + t["nose_len"], (-0.02, 0.02), (-t["nose_w"], t["nose_w"])
    )
    canvas[nose] = skin - 22
    canvas[ellipse(fu, v, 0, nose_top + t["nose_len"], t["nose_w"] * 0.9, 0.03)] = skin - 45
    if nose_wrinkle:
        for k in range(3):
            canvas[curve(fu, v, 0, nose_top + 0.02 + 0.035 * k, 0.09, 0.02, 0.008)] = skin - 40
    mw, mv = t["mouth_w"], t["mouth_v"]
    if mouth_open > 0:
        ry_m = mouth_open * (1.0 if mouth_round else 0.6)
        rx_m = mw * (0.55 if mouth_round else 1.0)
        opening = ellipse(fu, v, skew * 0.3, mv, rx_m, ry_m)
        canvas[opening] = t["mouth_dark"] * 0.5
        if teeth:
            canvas[opening & (v < mv - ry_m * 0.3)] = 225
    canvas[curve(fu, v, 0, mv, mw, bend, t["mouth_t"], skew)] = t["mouth_dark"]
    canvas += ramp(xx, yy, rng.uniform(0, 2 * np.pi), rng.uniform(0, light))
    canvas *= rng.uniform(0.85, 1.15)
    if tint is not None:
        canvas = canvas[..., None] * (np.asarray(tint, dtype=np.float32) / 255.0)
    return finish_image(canvas, size, rng, noise=noise)
