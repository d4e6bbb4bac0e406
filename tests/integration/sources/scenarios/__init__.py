"""One module per source type: ``scenario(tmp_path)`` builds its fake remote (contract.py)."""
