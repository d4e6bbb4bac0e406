"""Retention: raw indices and rollups older than ``retention:`` says are deleted
(``metronome retention plan|apply``; the scheduler applies it daily). With the S3 archive on,
an index goes only once every day it holds is archived: ``plan`` decides what is past its
limit (pure), ``guard`` what of that the archive lets go, ``run`` puts them together."""
