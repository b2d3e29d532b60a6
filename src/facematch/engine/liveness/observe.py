"""One liveness frame seen by the engine: its faces and its subject, with no quality gate.

A challenge frame is a turned, moving, downscaled face: the selfie's gates (frontal, sharp, one
dominant face) would refuse exactly the frames the challenge asks for. So a frame is only
observed: every face is counted, the subject (the largest face) gets its landmarks, the pose
estimated from them, and its template. Judging is :func:`facematch.engine.liveness.verdict.judge`'s.
"""

from __future__ import annotations

from facematch.engine.align import align_face
from facematch.engine.detect import Detection, find_faces
from facematch.engine.images import DecodedImage
from facematch.engine.liveness import pose
from facematch.engine.liveness.texture import face_patch
from facematch.engine.models import Detector, Recognizer, normalise
from facematch.engine.types import Box, FaceAnalysis, FrameObservation


def count_comparable(faces: tuple[Detection, ...], ratio: float) -> tuple[Detection | None, int]:
    """The largest face and how many faces are at least ``ratio`` of its width (itself included)."""
    if not faces:
        return None, 0
    ranked = sorted(faces, key=lambda f: (-f.width, -f.score, f.y, f.x))
    subject = ranked[0]
    return subject, sum(1 for f in ranked if f.width >= ratio * subject.width)


def observe_frame(
    detector: Detector, recognizer: Recognizer, decoded: DecodedImage, *, comparable_ratio: float
) -> FrameObservation:
    """Detect every face in ``decoded``; landmarks, pose and template of the largest."""
    found = find_faces(detector, decoded.rgb)
    inverse = 1.0 / decoded.scale
    height, width = found.image.shape[:2]
    frame_width, frame_height = round(width * inverse), round(height * inverse)
    subject, count = count_comparable(found.faces, comparable_ratio)
    if subject is None:
        return FrameObservation(face_count=0, frame_width=frame_width, frame_height=frame_height)
    crop = align_face(found.image, subject.landmarks)
    template = normalise(recognizer.features(crop[None]))[0]
    marks = subject.landmarks * inverse
    return FrameObservation(
        face_count=count,
        frame_width=frame_width,
        frame_height=frame_height,
        box=Box(subject.x * inverse, subject.y * inverse, subject.width * inverse, subject.height * inverse),
        landmarks=tuple((float(x), float(y)) for x, y in marks),
        yaw=pose.yaw(marks),
        size=pose.face_size(marks, frame_width),
        detector_score=subject.score,
        template=template,
        face_patch=face_patch(found.image, Box(subject.x, subject.y, subject.width, subject.height)),
    )


def observation_of(analysis: FaceAnalysis) -> FrameObservation:
    """A selfie's analysis as a frame observation (its gates passed: one dominant face)."""
    marks = pose.as_landmarks(analysis.landmarks)
    return FrameObservation(
        face_count=1,
        frame_width=analysis.image_width,
        frame_height=analysis.image_height,
        box=analysis.box,
        landmarks=analysis.landmarks,
        yaw=pose.yaw(marks),
        size=pose.face_size(marks, analysis.image_width),
        detector_score=analysis.quality.detector_score,
        template=analysis.template,
    )
