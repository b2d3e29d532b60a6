"""The face engine: a pure library (numpy, OpenCV, onnxruntime), no web, database or settings.

Public API: :class:`FaceEngine` (``load``, ``analyze``, ``compare``), :class:`EngineOptions`,
the data types in :mod:`facematch.engine.types`, and :class:`~facematch.engine.fake.FakeEngine`
for other layers' tests. Import :mod:`facematch.engine.facade` lazily where start-up time matters.
"""
