"""The access tests use the raw-socket CA client of the server tests (exact wire checks)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
