"""Frames in and results out: everything that touches a file, a camera or a screen image.

In: ``sources`` (a camera, a video or an image, opened and decoded) and ``playback``
(playing a source: pacing, looping, pause and seek, a camera that comes back).
Out: ``draw`` (skeletons onto a frame), ``outputs`` (annotated video, images and the
keypoint records written by ``uniskel infer`` and the window's recorder), ``records``
(the JSON lines of keypoints), ``safefiles`` (writing a file whole or not at all).
"""
