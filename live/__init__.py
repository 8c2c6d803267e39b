"""swapcam's live package: the face geometry core (landmarks, alignment, masks, colour, blend) and the frame loop.

Frames are RGB uint8 arrays of shape (H, W, 3) everywhere in swapcam: PyAV decodes to it, MediaPipe and
pyvirtualcam consume it, so the hot path never converts colour. Landmarks are float32 pixel coordinates in
OpenCV's convention (the centre of the top-left pixel is (0, 0)), the same space ``cv2.warpAffine`` uses.
"""

__version__ = "0.1.0"
