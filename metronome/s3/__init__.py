"""What every part that talks to S3 shares (the archive, the S3 access-log source)."""
