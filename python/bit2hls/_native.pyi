"""Type stubs of the compiled module bit2hls._native (python/src/lib.rs)."""

from os import PathLike
from typing import Optional

import numpy as np

__version__: str

class Bit2hlsError(Exception):
    """An error of bit2hls: the model, data or options cannot be used (the message says where
    and what was expected)."""

class Model:
    """A model read from a .safetensors file (a chain of layers or a particle-level model)."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def profile(self) -> str: ...
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def particles(self) -> Optional[int]: ...
    @property
    def jet_features(self) -> int: ...
    @property
    def notes(self) -> list[str]: ...
    def emulate(
        self,
        x: np.ndarray,
        mode: str,
        mask: Optional[np.ndarray] = None,
        jet: Optional[np.ndarray] = None,
        calib: Optional[str] = None,
        input_type: Optional[str] = None,
        frac_bits: Optional[int] = None,
        raw: bool = False,
    ) -> np.ndarray:
        """Firmware outputs: x float32 C-order [rows, inputs] (a set: [jets, particles *
        features] with mask uint8 [jets, particles] and jet float32 [jets, G])."""
    def float(
        self, x: np.ndarray, mask: Optional[np.ndarray] = None, jet: Optional[np.ndarray] = None
    ) -> np.ndarray:
        """The float model on the same inputs as emulate, float32."""

def load(path: str | PathLike[str], arch: Optional[str] = None, profile: Optional[str] = None) -> Model:
    """Reads a model (as the command line's MODEL, --arch, --profile)."""

def run(args: list[str]) -> tuple[int, Optional[str]]:
    """Runs one bit2hls command in this process: (exit code, JSON report of validate/estimate)."""
