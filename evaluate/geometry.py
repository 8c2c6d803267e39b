"""Geometric measurements on Face Mesh landmarks: head pose by PnP, mouth opening, the face hull, jitter.

All functions take landmarks as (478, 2) float32 frame pixels (``swapcam.core.messages.Face.landmarks``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from swapcam.core.landmarks import interocular

# A rigid 3D head for solvePnP: MediaPipe Face Mesh indices -> (x, y, z) in face widths (cheek to cheek = 1),
# x to the image right, y down, z away from the camera (the OpenCV camera frame of a frontal head). Made from the
# median of 477 near-frontal faces (|yaw|, |roll| < 8 degrees) of clips/person_a, person_b and webcam_720p, using
# MediaPipe's relative depth, then mirrored. Only points that do not move with speech or expression: eye corners,
# nose, nostrils, cheeks and forehead (the chin and lips move with the jaw, the brows with expression).
HEAD_MODEL: dict[int, tuple[float, float, float]] = {
    33: (-0.3341, -0.2195, 0.1486),
    133: (-0.1209, -0.1962, 0.1091),
    362: (0.1209, -0.1962, 0.1091),
    263: (0.3341, -0.2195, 0.1486),
    168: (0.0000, -0.2667, 0.0000),
    6: (0.0000, -0.1984, -0.0335),
    197: (0.0000, -0.1437, -0.0733),
    195: (0.0000, -0.0943, -0.1165),
    5: (0.0000, -0.0413, -0.1599),
    4: (0.0000, 0.0233, -0.1807),
    1: (0.0000, 0.0764, -0.1672),
    98: (-0.1238, 0.1232, -0.0029),
    327: (0.1238, 0.1232, -0.0029),
    234: (-0.5000, -0.0694, 0.5249),
    454: (0.5000, -0.0694, 0.5249),
    10: (0.0000, -0.6683, 0.0504),
}
_PNP_IDX = np.array(list(HEAD_MODEL))
_PNP_MODEL = np.array(list(HEAD_MODEL.values()), dtype=np.float64)  # (K, 3)
UPPER_LIP, LOWER_LIP = 13, 14  # inner lip midpoints


@dataclass(frozen=True, slots=True)
class Pose:
    rotation: np.ndarray  # (3, 3) float64, head -> camera
    yaw: float  # degrees; > 0 the nose turns towards the image's right (as swapcam.core.pose)
    pitch: float  # > 0 the face looks up
    roll: float  # > 0 the face leans clockwise in the image

    def angles(self) -> np.ndarray:
        return np.array([self.yaw, self.pitch, self.roll])


def camera_matrix(width: int, height: int) -> np.ndarray:
    """A pinhole camera with a ~53 degree horizontal view (focal length = the frame's larger side)."""
    f = float(max(width, height))
    return np.array([[f, 0.0, width / 2 - 0.5], [0.0, f, height / 2 - 0.5], [0.0, 0.0, 1.0]])


def solve_pose(landmarks: np.ndarray, camera: np.ndarray) -> Pose:
    """Head rotation by PnP of ``HEAD_MODEL`` onto the landmarks (SQPnP, then Levenberg-Marquardt refinement)."""
    image_pts = landmarks[_PNP_IDX].astype(np.float64)
    ok, rvec, tvec = cv2.solvePnP(_PNP_MODEL, image_pts, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    if ok:
        rvec, tvec = cv2.solvePnPRefineLM(_PNP_MODEL, image_pts, camera, None, rvec, tvec)
    rot, _ = cv2.Rodrigues(rvec)
    # Rotation about the camera's y axis (yaw), x axis (pitch) and z axis (roll), as seen in the image.
    yaw = np.degrees(np.arctan2(-rot[2, 0], np.hypot(rot[2, 1], rot[2, 2])))
    pitch = -np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    return Pose(rot, float(-yaw), float(pitch), float(roll))


def rotation_between(a: Pose, b: Pose) -> float:
    """The angle of the rotation taking pose ``a`` to pose ``b``, in degrees."""
    cos = (np.trace(a.rotation.T @ b.rotation) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap over the interocular distance: about 0 closed, 0.3-0.6 wide open."""
    gap = np.hypot(*(landmarks[LOWER_LIP] - landmarks[UPPER_LIP]))
    return float(gap / max(interocular(landmarks), 1.0))


def outside_face(landmarks: np.ndarray, shape: tuple[int, int], *, dilate: float = 0.15) -> np.ndarray:
    """(H, W) bool: True outside the convex hull of all landmarks grown by ``dilate`` face widths."""
    height, width = shape
    inside = np.zeros((height, width), np.uint8)
    hull = cv2.convexHull(np.round(landmarks).astype(np.int32))
    cv2.fillConvexPoly(inside, hull, 1)
    radius = max(1, round(dilate * float(np.hypot(*(landmarks[454] - landmarks[234])))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(inside, kernel) == 0
