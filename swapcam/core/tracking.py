"""Stable track ids for faces across video frames, by greedy box-overlap matching."""

from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) pixels


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(slots=True)
class Track:
    track_id: int
    box: Box
    missed: int = 0  # consecutive frames without this face


@dataclass(slots=True)
class TrackMatcher:
    """Gives each face box a track id: the best-overlapping live track, or a new one.

    A track survives ``max_missed`` frames without its face (a blink of the detector keeps the id), but
    ``match`` reports it as *restarted* so callers can reset per-track state such as smoothing filters.
    """

    min_iou: float = 0.3
    max_missed: int = 5
    tracks: dict[int, Track] = field(default_factory=dict)
    next_id: int = 0

    def reset(self) -> None:
        self.tracks.clear()

    def match(self, boxes: list[Box]) -> list[tuple[int, bool]]:
        """Returns, for each box, (track_id, is_new_or_restarted). Tracks not seen age by one frame."""
        pairs = sorted(
            ((box_iou(b, t.box), i, tid) for i, b in enumerate(boxes) for tid, t in self.tracks.items()),
            reverse=True,
        )
        assigned: dict[int, int] = {}
        used: set[int] = set()
        for iou, i, tid in pairs:
            if iou < self.min_iou:
                break
            if i in assigned or tid in used:
                continue
            assigned[i] = tid
            used.add(tid)
        result: list[tuple[int, bool]] = []
        for i, box in enumerate(boxes):
            tid = assigned.get(i)
            if tid is None:
                tid = self.next_id
                self.next_id += 1
                self.tracks[tid] = Track(tid, box)
                result.append((tid, True))
            else:
                track = self.tracks[tid]
                restarted = track.missed > 0
                track.box, track.missed = box, 0
                result.append((tid, restarted))
        seen = {tid for tid, _ in result}
        for tid in list(self.tracks):
            if tid not in seen:
                track = self.tracks[tid]
                track.missed += 1
                if track.missed > self.max_missed:
                    del self.tracks[tid]
        return result
