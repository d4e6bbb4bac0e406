"""The ``s3_access_logs`` source: S3 server access logs into the ``s3`` stream.

``parse`` reads one log line, ``keys`` knows the log object key layouts and the cursor,
``documents`` turns lines into documents, ``bucket`` talks to S3 (boto3) and ``source`` ties
them together on the framework's ``Source``.
"""

from ingesters.s3_access_logs.source import S3AccessLogsOptions, S3AccessLogsSource

__all__ = ["S3AccessLogsOptions", "S3AccessLogsSource"]
