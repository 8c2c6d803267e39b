"""Head pose (yaw, pitch, roll in degrees) from Face Mesh landmarks and their relative depth.

The face's axes are read off the mesh: x from cheek to cheek (234 -> 454), y from forehead top to chin
(10 -> 152) made orthogonal to x, in (x px, y px, depth px) space. Conventions, as seen in the image:
yaw > 0 the nose turns towards the image's right; pitch > 0 the face looks up; roll > 0 the face leans clockwise.
MediaPipe's depth is approximate, so yaw and pitch are good to a few degrees (a level, frontal head reads a
pitch of about -2 to -7 on the sample clips): enough to sort, balance and filter faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class HeadPose:
    yaw: float
    pitch: float
    roll: float


def head_pose(landmarks: np.ndarray, depth: np.ndarray) -> HeadPose:
    """landmarks: (478, 2) float32 pixels; depth: (478,) float32 pixels (MediaPipe z times frame width)."""
    p = np.column_stack([landmarks.astype(np.float64), depth.astype(np.float64)])
    x = p[454] - p[234]
    x /= np.linalg.norm(x)
    y = p[152] - p[10]
    y -= (y @ x) * x
    y /= np.linalg.norm(y)
    yaw = np.degrees(np.arctan2(x[2], np.hypot(x[0], x[1])))
    pitch = np.degrees(np.arctan2(-y[2], np.hypot(y[0], y[1])))
    roll = np.degrees(np.arctan2(x[1], x[0]))
    return HeadPose(float(yaw), float(pitch), float(roll))


# Inner-lip midpoints (MediaPipe Face Mesh): the gap between them is how far the mouth is open.
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap over the interocular distance (eye centre to eye centre), for (478, 2) landmarks in any pixel
    space: about 0 closed, 0.3-0.6 wide open. The same measure as ``swapcam eval``'s mouth opening (issue 15)."""
    lm = landmarks.astype(np.float64, copy=False)
    eyes = np.array([(lm[33] + lm[133]) / 2, (lm[362] + lm[263]) / 2])
    iod = float(np.hypot(*(eyes[1] - eyes[0])))
    gap = float(np.hypot(*(lm[LOWER_LIP_INNER] - lm[UPPER_LIP_INNER])))
    return gap / max(iod, 1.0)
