"""Procedural street scenes with exact labelId maps, for a Cityscapes-format synthetic dataset.

A scene is a road vanishing at a horizon, sidewalks, terrain, building facades with windows,
sky, trees, walls and fences, and "things" placed in perspective (cars, buses, persons,
riders on bicycles, poles carrying signs and traffic lights) drawn far to near. Colours come
from overlapping per-class distributions and each class has its own texture (noise level,
tiles, windows, lane marks), so that shape, texture and context are needed, not colour alone.
Thin and small objects make boundary quality matter.
"""

import cv2
import numpy as np

from pointrend.data.synthetic_canvas import Canvas

# Official Cityscapes labelIds used by the generator.
EGO_VEHICLE, STATIC = 1, 4
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE = 7, 8, 11, 12, 13, 17
TRAFFIC_LIGHT, TRAFFIC_SIGN, VEGETATION, TERRAIN, SKY = 19, 20, 21, 22, 23
PERSON, RIDER, CAR, BUS, BICYCLE = 24, 25, 26, 28, 33

# Per-labelId pixel noise (std of luminance noise, 0-255 units): the texture signature of a class.
_NOISE_STD = np.full(256, 6.0, dtype=np.float32)
_NOISE_STD[[SKY]] = 2.0
_NOISE_STD[[ROAD]] = 9.0
_NOISE_STD[[VEGETATION]] = 28.0
_NOISE_STD[[TERRAIN]] = 18.0
_NOISE_STD[[CAR, BUS, POLE, TRAFFIC_SIGN, TRAFFIC_LIGHT]] = 3.0


def render_scene(
    rng: np.random.Generator, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """One random scene -> (RGB image uint8 [H, W, 3], labelIds uint8 [H, W])."""
    canvas = Canvas(height, width)
    street = _Street(rng, height, width)
    _draw_sky(canvas, rng, street)
    _draw_buildings(canvas, rng, street)
    _draw_ground(canvas, rng, street)
    _draw_roadside(canvas, rng, street)
    _draw_things(canvas, rng, street)
    if rng.random() < 0.4:
        _draw_ego_vehicle(canvas, rng)
    return _finish(canvas, rng), canvas.label


class _Street:
    """Geometry of the scene: horizon, vanishing point and the road / sidewalk edges at any row."""

    def __init__(self, rng: np.random.Generator, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.unit = width / 512.0  # sizes below are in pixels of a 512-wide image
        self.horizon = height * rng.uniform(0.36, 0.5)
        self.vanish_x = width * rng.uniform(0.38, 0.62)
        half_road = width * rng.uniform(0.28, 0.55)
        self.road_bottom = (self.vanish_x - half_road, self.vanish_x + half_road)
        self.walk_width = width * rng.uniform(0.18, 0.45)
        self.terrain_width = width * rng.uniform(0.1, 0.3) if rng.random() < 0.6 else 0.0

    def depth(self, y: float) -> float:
        """Perspective size factor of a ground point on row y: 0 at the horizon, 1 at the bottom."""
        return max(0.0, (y - self.horizon) / (self.height - self.horizon))

    def edge_x(self, bottom_x: float, y: float) -> float:
        return self.vanish_x + (bottom_x - self.vanish_x) * self.depth(y)

    def road_span(self, y: float) -> tuple[float, float]:
        return self.edge_x(self.road_bottom[0], y), self.edge_x(self.road_bottom[1], y)

    def walk_span(self, y: float, side: int) -> tuple[float, float]:
        """x-range of the left (side=-1) or right (side=1) sidewalk on row y."""
        inner = self.road_bottom[0] if side < 0 else self.road_bottom[1]
        outer = inner + side * self.walk_width
        low, high = sorted((self.edge_x(inner, y), self.edge_x(outer, y)))
        return low, high

    def ground_y(self, rng: np.random.Generator, near: float = 1.0) -> float:
        # Squaring the draw puts more objects far away, where they are small.
        return self.horizon + (self.height - self.horizon) * (
            0.04 + 0.96 * near * rng.random() ** 1.6
        )


def _jitter(
    rng: np.random.Generator, base: tuple[int, int, int], amount: float
) -> tuple[int, int, int]:
    first, second, third = np.clip(np.asarray(base) + rng.normal(0, amount, 3), 0, 255)
    return int(first), int(second), int(third)


def _gray(rng: np.random.Generator, low: int, high: int, tint: float = 8.0) -> tuple[int, int, int]:
    level = int(rng.integers(low, high))
    return _jitter(rng, (level, level, level), tint)


def _draw_sky(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    top = _gray(rng, 150, 215) if rng.random() < 0.35 else _jitter(rng, (85, 135, 200), 18)
    bottom = _jitter(rng, (200, 205, 215), 15)
    rows = int(np.ceil(street.horizon)) + 1
    ramp = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    gradient = (1 - ramp) * np.asarray(top, np.float32) + ramp * np.asarray(bottom, np.float32)
    canvas.image[:rows] = gradient[:, None, :].astype(np.uint8)
    canvas.label[:rows] = SKY


def _draw_buildings(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    facades = [
        (180, 160, 130),
        (120, 100, 90),
        (150, 80, 60),
        (140, 140, 145),
        (200, 190, 170),
        (90, 95, 100),
    ]
    x, u = 0.0, street.unit
    while x < street.width:
        w = street.width * rng.uniform(0.07, 0.22)
        if rng.random() < 0.15:  # a gap: sky above a hedge, sometimes with a tall tree
            hedge_top = street.horizon - street.height * rng.uniform(0.01, 0.08)
            canvas.rect(
                x, hedge_top, x + w, street.height, VEGETATION, _jitter(rng, (70, 110, 45), 20)
            )
            if rng.random() < 0.5:
                _draw_tree(canvas, rng, x + w / 2, street.horizon + 10 * u, 1.6, u)
            x += w
            continue
        top = max(0.0, street.horizon - street.height * rng.uniform(0.05, 0.45))
        color = _jitter(rng, facades[rng.integers(len(facades))], 15)
        canvas.rect(x, top, x + w, street.height, BUILDING, color)
        _draw_windows(canvas, rng, int(x), int(top), int(x + w), int(street.horizon + 20 * u), u)
        x += w


def _draw_windows(
    canvas: Canvas, rng: np.random.Generator, x0: int, y0: int, x1: int, y1: int, u: float
) -> None:
    x0, y0 = x0 + int(3 * u), y0 + int(4 * u)
    x1, y1 = min(x1, canvas.width), min(y1, canvas.height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    pitch_x, pitch_y = max(3, int(rng.uniform(6, 14) * u)), max(3, int(rng.uniform(7, 16) * u))
    fill = rng.uniform(0.35, 0.7)
    ys, xs = np.ogrid[y0:y1, x0:x1]
    windows = (((xs - x0) % pitch_x) < fill * pitch_x) & (((ys - y0) % pitch_y) < fill * pitch_y)
    canvas.paint_where((slice(y0, y1), slice(x0, x1)), windows, _jitter(rng, (60, 70, 85), 20))


def _draw_ground(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    h, vx, hz, u = street.height, street.vanish_x, street.horizon, street.unit
    left, right = street.road_bottom
    walk = _gray(rng, 140, 190, 10)
    for side, inner in ((-1, left), (1, right)):
        outer = inner + side * street.walk_width
        if street.terrain_width:
            far = outer + side * street.terrain_width
            canvas.polygon(
                [(vx, hz), (outer, h), (far, h)], TERRAIN, _jitter(rng, (110, 140, 70), 20)
            )
        canvas.polygon([(vx, hz), (inner, h), (outer, h)], SIDEWALK, _jitter(rng, walk, 6))
    _draw_tiles(canvas, rng, street)
    canvas.polygon(
        [(vx - u, hz), (vx + u, hz), (right, h), (left, h)], ROAD, _gray(rng, 70, 120, 6)
    )
    _draw_lane_marks(canvas, rng, street)
    for _ in range(rng.integers(0, 3)):
        _draw_shadow(canvas, rng, street)


def _draw_tiles(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    y0 = int(street.horizon) + 1
    ys, xs = np.ogrid[y0 : street.height, 0 : street.width]
    pitch = max(3, int(rng.uniform(5, 10) * street.unit))
    joints = ((xs % pitch) == 0) | (((ys - y0) % pitch) == 0)
    region = (slice(y0, street.height), slice(0, street.width))
    joints &= canvas.label[region] == SIDEWALK
    canvas.paint_where(region, joints, _gray(rng, 90, 130, 5))


def _draw_lane_marks(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    white, u = _gray(rng, 200, 245, 4), street.unit
    bottom_x = street.vanish_x + rng.uniform(-0.1, 0.1) * street.width
    dash = rng.uniform(0.05, 0.12)
    t = rng.uniform(0.0, 2 * dash)
    while t < 1.0:
        t1 = min(1.0, t + dash)
        ya, yb = (
            street.horizon + t * (street.height - street.horizon),
            street.horizon + t1 * (street.height - street.horizon),
        )
        xa = street.vanish_x + (bottom_x - street.vanish_x) * t
        xb = street.vanish_x + (bottom_x - street.vanish_x) * t1
        canvas.polygon(
            [
                (xa - 3 * u * t, ya),
                (xa + 3 * u * t, ya),
                (xb + 3 * u * t1, yb),
                (xb - 3 * u * t1, yb),
            ],
            ROAD,
            white,
        )
        t = t1 + dash


def _draw_shadow(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    # Shadows darken pixels of whatever class they fall on, so brightness alone cannot tell classes
    # apart.
    y0 = int(street.ground_y(rng))
    y1 = min(street.height, y0 + int(rng.uniform(0.05, 0.2) * street.height))
    x0 = int(rng.uniform(0, 0.8) * street.width)
    x1 = min(street.width, x0 + int(rng.uniform(0.1, 0.5) * street.width))
    patch = canvas.image[y0:y1, x0:x1]
    patch[:] = (patch * rng.uniform(0.55, 0.8)).astype(np.uint8)


def _draw_roadside(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    u = street.unit
    for _ in range(rng.integers(0, 3)):
        side = -1 if rng.random() < 0.5 else 1
        y = street.ground_y(rng, near=0.7)
        d = street.depth(y)
        lo, hi = street.walk_span(y, side)
        x = hi if side < 0 else lo
        length = street.width * rng.uniform(0.1, 0.3) * d
        height = rng.uniform(25, 60) * u * d
        x0, x1 = (x - length, x) if side < 0 else (x, x + length)
        if rng.random() < 0.5:
            canvas.rect(x0, y - height, x1, y, WALL, _jitter(rng, (150, 145, 135), 20))
        else:
            _draw_fence(canvas, rng, x0, y - height, x1, y, max(1.0, 2 * u * d))
    for _ in range(rng.integers(1, 5)):
        side = -1 if rng.random() < 0.5 else 1
        y = street.ground_y(rng, near=0.6)
        lo, hi = street.walk_span(y, side)
        x = (
            hi + rng.uniform(0, 0.3) * (hi - lo)
            if side > 0
            else lo - rng.uniform(0, 0.3) * (hi - lo)
        )
        _draw_tree(canvas, rng, x, y, street.depth(y), u)


def _draw_fence(
    canvas: Canvas, rng: np.random.Generator, x0: float, y0: float, x1: float, y1: float, bar: float
) -> None:
    # The whole fence area is labelled fence, as in Cityscapes; the image shows bars over the
    # background.
    color = _jitter(rng, (160, 150, 140), 25)
    xi0, yi0, xi1, yi1 = (int(round(v)) for v in (x0, y0, x1, y1))
    xi0, xi1 = max(0, xi0), min(canvas.width, xi1)
    yi0, yi1 = max(0, yi0), min(canvas.height, yi1)
    if xi1 <= xi0 or yi1 <= yi0:
        return
    canvas.label[yi0:yi1, xi0:xi1] = FENCE
    pitch = max(3, int(4 * bar))
    ys, xs = np.ogrid[yi0:yi1, xi0:xi1]
    bars = (
        ((xs - xi0) % pitch < bar)
        | ((ys - yi0) % pitch < bar)
        | (ys - yi0 < bar)
        | (yi1 - 1 - ys < bar)
    )
    canvas.paint_where((slice(yi0, yi1), slice(xi0, xi1)), bars, color)


def _draw_tree(
    canvas: Canvas, rng: np.random.Generator, x: float, y: float, d: float, u: float
) -> None:
    d = max(d, 0.08)
    height = rng.uniform(90, 170) * u * d
    canvas.rect(
        x - 3 * u * d,
        y - height * 0.6,
        x + 3 * u * d,
        y,
        VEGETATION,
        _jitter(rng, (90, 70, 50), 12),
    )
    crown = rng.uniform(30, 60) * u * d
    green = (
        _jitter(rng, (70, 110, 45), 25) if rng.random() < 0.8 else _jitter(rng, (150, 120, 60), 20)
    )
    for _ in range(rng.integers(3, 7)):
        canvas.circle(
            x + rng.normal(0, crown * 0.5),
            y - height + rng.normal(0, crown * 0.4),
            crown * rng.uniform(0.5, 0.9),
            VEGETATION,
            _jitter(rng, green, 12),
        )


def _draw_things(canvas: Canvas, rng: np.random.Generator, street: _Street) -> None:
    """Place cars, buses, persons, riders and poles, then draw them far to near so near ones
    occlude."""
    things = []
    for _ in range(rng.integers(2, 7)):
        y = street.ground_y(rng)
        lo, hi = street.road_span(y)
        things.append((y, _draw_bus if rng.random() < 0.12 else _draw_car, rng.uniform(lo, hi)))
    for _ in range(rng.integers(2, 9)):
        y = street.ground_y(rng, near=0.9)
        lo, hi = street.walk_span(y, -1 if rng.random() < 0.5 else 1)
        things.append((y, _draw_person, rng.uniform(lo, hi)))
    for _ in range(rng.integers(0, 3)):
        y = street.ground_y(rng)
        lo, hi = street.road_span(y)
        things.append((y, _draw_cyclist, rng.uniform(lo, hi)))
    for _ in range(rng.integers(3, 9)):
        y = street.ground_y(rng, near=0.8)
        side = -1 if rng.random() < 0.5 else 1
        lo, hi = street.walk_span(y, side)
        things.append((y, _draw_pole, lo + 0.15 * (hi - lo) if side < 0 else hi - 0.15 * (hi - lo)))
    for _ in range(rng.integers(0, 3)):
        y = street.ground_y(rng, near=0.8)
        lo, hi = street.walk_span(y, -1 if rng.random() < 0.5 else 1)
        things.append((y, _draw_static_object, rng.uniform(lo, hi)))
    for y, draw, x in sorted(things, key=lambda thing: thing[0]):
        draw(canvas, rng, x, y, max(street.depth(y), 0.05) * street.unit)


_CAR_COLORS = [
    (230, 230, 230),
    (30, 30, 35),
    (160, 165, 170),
    (150, 30, 30),
    (40, 60, 140),
    (90, 90, 95),
    (200, 180, 60),
    (60, 110, 70),
]


def _draw_car(canvas: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    """A car standing at ground point (x, y); s = pixels per unit at that depth."""
    w, h = rng.uniform(150, 200) * s, rng.uniform(70, 90) * s
    body = _jitter(rng, _CAR_COLORS[rng.integers(len(_CAR_COLORS))], 12)
    x0, x1, top = x - w / 2, x + w / 2, y - h
    canvas.rect(x0, y - 0.55 * h, x1, y - 0.12 * h, CAR, body)
    canvas.polygon(
        [
            (x0 + 0.15 * w, y - 0.55 * h),
            (x0 + 0.28 * w, top),
            (x1 - 0.28 * w, top),
            (x1 - 0.15 * w, y - 0.55 * h),
        ],
        CAR,
        body,
    )
    canvas.polygon(
        [
            (x0 + 0.22 * w, y - 0.57 * h),
            (x0 + 0.31 * w, top + 0.08 * h),
            (x1 - 0.31 * w, top + 0.08 * h),
            (x1 - 0.22 * w, y - 0.57 * h),
        ],
        CAR,
        _jitter(rng, (50, 60, 75), 10),
    )
    for wheel_x in (x0 + 0.2 * w, x1 - 0.2 * w):
        canvas.circle(wheel_x, y - 0.14 * h, 0.14 * h, CAR, (20, 20, 20))
    for light_x in (x0 + 0.06 * w, x1 - 0.06 * w):
        canvas.rect(
            light_x - 0.04 * w, y - 0.45 * h, light_x + 0.04 * w, y - 0.36 * h, CAR, (230, 200, 120)
        )


def _draw_bus(canvas: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    w, h = rng.uniform(220, 300) * s, rng.uniform(140, 170) * s
    body = _jitter(
        rng, [(200, 50, 40), (240, 200, 40), (230, 230, 225), (40, 90, 160)][rng.integers(4)], 10
    )
    canvas.rect(x - w / 2, y - h, x + w / 2, y - 0.1 * h, BUS, body)
    n = int(rng.integers(4, 7))
    for i in range(n):
        wx = x - w / 2 + (i + 0.15) * w / n
        canvas.rect(
            wx, y - 0.9 * h, wx + 0.7 * w / n, y - 0.55 * h, BUS, _jitter(rng, (45, 55, 70), 8)
        )
    for wheel_x in (x - 0.3 * w, x + 0.3 * w):
        canvas.circle(wheel_x, y - 0.1 * h, 0.1 * h, BUS, (20, 20, 20))


def _skin(rng: np.random.Generator) -> tuple[int, int, int]:
    return _jitter(rng, [(230, 190, 160), (190, 140, 100), (120, 80, 55)][rng.integers(3)], 10)


def _clothes(rng: np.random.Generator) -> tuple[int, int, int]:
    if rng.random() < 0.5:
        return _jitter(rng, (40, 40, 45), 25)
    first, second, third = rng.integers(0, 256, 3)
    return int(first), int(second), int(third)


def _draw_person(canvas: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    """Standing pedestrian: thin legs and arms, torso, head."""
    h = rng.uniform(150, 185) * s
    limb = max(1.0, 0.07 * h)
    legs, torso = _clothes(rng), _clothes(rng)
    stride = rng.uniform(0.0, 0.12) * h
    canvas.line(x, y - 0.48 * h, x - stride, y, limb, PERSON, legs)
    canvas.line(x, y - 0.48 * h, x + stride, y, limb, PERSON, legs)
    canvas.rect(x - 0.1 * h, y - 0.82 * h, x + 0.1 * h, y - 0.45 * h, PERSON, torso)
    swing = rng.uniform(-0.1, 0.1) * h
    canvas.line(
        x - 0.1 * h, y - 0.8 * h, x - 0.13 * h + swing, y - 0.5 * h, limb * 0.8, PERSON, torso
    )
    canvas.line(
        x + 0.1 * h, y - 0.8 * h, x + 0.13 * h - swing, y - 0.5 * h, limb * 0.8, PERSON, torso
    )
    canvas.circle(x, y - 0.9 * h, 0.075 * h, PERSON, _skin(rng))


def _draw_cyclist(canvas: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    """Bicycle (thin wheel rings and frame) with its rider on top."""
    r = rng.uniform(28, 34) * s
    spoke = max(1.0, 0.12 * r)
    frame = _jitter(
        rng, [(30, 30, 30), (180, 30, 30), (40, 80, 160), (200, 200, 200)][rng.integers(4)], 10
    )
    back, front = (x - 1.2 * r, y - r), (x + 1.2 * r, y - r)
    for cx, cy in (back, front):
        canvas.circle(cx, cy, r, BICYCLE, (25, 25, 25), thickness=max(1, int(round(spoke))))
    seat, bar = (x - 0.3 * r, y - 2.1 * r), (x + 0.9 * r, y - 2.2 * r)
    for a, b in (
        (back, seat),
        (seat, bar),
        (bar, front),
        (back, (x, y - r)),
        ((x, y - r), seat),
        ((x, y - r), bar),
    ):
        canvas.line(a[0], a[1], b[0], b[1], spoke, BICYCLE, frame)
    clothes = _clothes(rng)
    canvas.line(seat[0], seat[1], x, y - r, 0.25 * r, RIDER, clothes)
    canvas.polygon(
        [
            (seat[0] - 0.2 * r, seat[1]),
            (seat[0] + 0.25 * r, seat[1]),
            (x + 0.4 * r, y - 3.4 * r),
            (x - 0.05 * r, y - 3.5 * r),
        ],
        RIDER,
        clothes,
    )
    canvas.line(x + 0.3 * r, y - 3.2 * r, bar[0], bar[1], 0.18 * r, RIDER, clothes)
    canvas.circle(x + 0.25 * r, y - 3.85 * r, 0.38 * r, RIDER, _skin(rng))


def _draw_pole(canvas: Canvas, rng: np.random.Generator, x: float, y: float, s: float) -> None:
    """Thin pole, optionally carrying a traffic sign and/or a traffic light."""
    h = rng.uniform(220, 330) * s
    w = max(1.0, rng.uniform(3, 7) * s)
    canvas.rect(x - w / 2, y - h, x + w / 2, y, POLE, _gray(rng, 110, 170, 6))
    if rng.random() < 0.6:
        _draw_sign(canvas, rng, x, y - h * rng.uniform(0.6, 0.95), rng.uniform(14, 24) * s)
    if rng.random() < 0.35:
        box_w, box_h = 10 * s, 26 * s
        top = y - h
        canvas.rect(x - box_w / 2, top, x + box_w / 2, top + box_h, TRAFFIC_LIGHT, (35, 35, 30))
        lit = rng.integers(3)
        for i, color in enumerate(((220, 40, 30), (230, 180, 30), (40, 200, 80))):
            canvas.circle(
                x,
                top + (i + 0.5) * box_h / 3,
                box_w * 0.3,
                TRAFFIC_LIGHT,
                color if i == lit else (60, 60, 55),
            )


def _draw_sign(canvas: Canvas, rng: np.random.Generator, x: float, y: float, size: float) -> None:
    kind = rng.integers(4)
    if kind == 0:  # prohibition: red ring
        canvas.circle(x, y, size / 2, TRAFFIC_SIGN, (200, 30, 30))
        canvas.circle(x, y, size / 2.8, TRAFFIC_SIGN, (235, 235, 235))
    elif kind == 1:  # mandatory: blue disc
        canvas.circle(x, y, size / 2, TRAFFIC_SIGN, (30, 70, 170))
    elif kind == 2:  # warning: triangle
        canvas.polygon(
            [(x - size / 2, y + size / 2.4), (x + size / 2, y + size / 2.4), (x, y - size / 2)],
            TRAFFIC_SIGN,
            (210, 40, 35),
        )
    else:  # priority: yellow diamond
        canvas.polygon(
            [(x, y - size / 2), (x + size / 2, y), (x, y + size / 2), (x - size / 2, y)],
            TRAFFIC_SIGN,
            (240, 200, 40),
        )


def _draw_static_object(
    canvas: Canvas, rng: np.random.Generator, x: float, y: float, s: float
) -> None:
    # Bins and boxes carry a label that is not evaluated (trainId 255), like Cityscapes' "static".
    w, h = rng.uniform(15, 30) * s, rng.uniform(25, 45) * s
    canvas.rect(x - w / 2, y - h, x + w / 2, y, STATIC, _jitter(rng, (70, 90, 70), 30))


def _draw_ego_vehicle(canvas: Canvas, rng: np.random.Generator) -> None:
    h, w = canvas.height, canvas.width
    bulge = h * rng.uniform(0.05, 0.1)
    canvas.ellipse(w / 2, h + bulge * 0.3, w * 0.7, bulge * 1.3, EGO_VEHICLE, _gray(rng, 20, 60, 5))


def _finish(canvas: Canvas, rng: np.random.Generator) -> np.ndarray:
    """Class-dependent noise, smooth lighting changes and a slight camera blur."""
    h, w = canvas.height, canvas.width
    image = canvas.image.astype(np.float32)
    luminance_noise = rng.standard_normal((h, w), dtype=np.float32) * _NOISE_STD[canvas.label]
    image += luminance_noise[..., None]
    image += rng.standard_normal((h, w, 3), dtype=np.float32) * 3.0
    lighting = cv2.resize(
        rng.uniform(0.8, 1.15, (3, 5)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    image *= lighting[..., None]
    blurred = cv2.GaussianBlur(image, (3, 3), 0.6)
    return np.clip(blurred, 0, 255).astype(np.uint8)
