"""Permutation-invariant features of the entities in one numeric state: standard library only.

The single implementation of the entity stage. ``EntityFeaturizer`` runs it in training and at
``predict`` time, and the Python export embeds its source verbatim, so a deployed
``decide(state)`` sees exactly the columns the student was trained on. Every value is rounded
to float32, as the training arrays hold it, so a split bound compares the same way everywhere.

``layout`` is ``[keep, groups, nearest, radius]``: ``keep`` the state's columns copied as they
are; ``groups`` a list of ``[name, entities]``, each entity ``[x column, y column, presence
column or -1]`` (positions relative to the agent); per group its ``nearest`` closest present
entities (at most as many as it has), nearest first, give ``dx, dy, distance`` and, for every other group, the margin
``distance of that group's closest entity to this one - this one's distance to the agent``
(> 0: the agent is nearer to it than anything of that group); then the count of present
entities within ``radius``. A missing entity (absent, or fewer than ``nearest``) reads
``0, 0, FAR`` and margin 0.
"""

import math
import struct

FAR = 1.0e3  # distance an absent entity reads as: beyond any radius, larger than any split bound learnt


def _f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def _present(state, entity):
    return entity[2] < 0 or float(state[entity[2]]) > 0.5


def entity_features(state, layout):
    """The feature vector (a list of floats) of one numeric state."""
    keep, groups, nearest, radius = layout
    out = [float(state[c]) for c in keep]
    points = []
    for _name, entities in groups:
        pts = [(float(state[e[0]]), float(state[e[1]])) for e in entities if _present(state, e)]
        points.append(sorted(pts, key=lambda p: (math.hypot(p[0], p[1]), p[0], p[1])))
    for g, pts in enumerate(points):
        for k in range(min(nearest, len(groups[g][1]))):
            if k >= len(pts):
                out += [0.0, 0.0, FAR] + [0.0] * (len(points) - 1)
                continue
            x, y = pts[k]
            d = math.hypot(x, y)
            out += [x, y, d]
            for h, others in enumerate(points):
                if h != g:
                    closest = min((math.hypot(x - ox, y - oy) for ox, oy in others), default=FAR)
                    out.append(closest - d)
        out.append(float(sum(1 for x, y in pts if math.hypot(x, y) <= radius)))
    return [_f32(v) for v in out]
