"""The one error family of humanrecon.

Everything the library raises on purpose derives from :class:`HumanreconError`, so the
command line catches one base class and prints one line (a traceback only with
``--debug``), and a program can do the same. Each class also derives from the builtin a
Python user would expect (``ValueError``, ``FileNotFoundError``, ``FileExistsError``,
``TypeError``, ``IndexError``, ``ImportError``, ``RuntimeError``), so ``except ValueError``
(or ``except TypeError`` ...) keeps working.

::

    HumanreconError
    ├── InputError (ValueError)              bad user input: files, shapes, values, flags
    │   ├── InputTypeError (TypeError)             an argument of the wrong type, an unknown keyword
    │   ├── InputIndexError (IndexError)           an index out of range (e.g. a camera index)
    │   ├── MissingFileError (FileNotFoundError)   an input file or folder does not exist
    │   ├── OutputExistsError (FileExistsError)    an output exists and overwrite is off
    │   ├── CheckpointError                        not a checkpoint of the expected kind
    │   ├── ModelFileError                         not a usable body-model file
    │   │   └── UnsafeModelFileError               a pickle naming code it may not run
    │   ├── PoseFileError                          malformed pose / motion file
    │   ├── KeypointFileError                      malformed 2D keypoint file
    │   └── SplatFileError                         malformed Gaussian-splat scene file (.ply / .splat)
    ├── MissingDependencyError (ImportError)   an optional package (or library) is not installed;
    │                                          the message says how to install it
    └── TrainingDivergedError (RuntimeError)  a loss became NaN/inf; names the last good checkpoint

Messages name the file or flag and the problem in one line.
"""

from __future__ import annotations


class HumanreconError(Exception):
    """Base of every error humanrecon raises on purpose."""


class InputError(HumanreconError, ValueError):
    """Bad user input: a file, a shape, a value or a command-line flag."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong type (e.g. not a tensor, not a :class:`Camera`) or an
    unknown keyword argument."""


class InputIndexError(InputError, IndexError):
    """An index out of range, or one that selects nothing (e.g. a camera index)."""


class MissingFileError(InputError, FileNotFoundError):
    """An input file or folder does not exist."""


class OutputExistsError(InputError, FileExistsError):
    """An output file exists and overwriting was not asked for."""


class CheckpointError(InputError):
    """A file that is not a humanrecon checkpoint of the expected kind (or is damaged)."""


class ModelFileError(InputError):
    """A body-model file that is missing, malformed or of an unknown layout."""


class UnsafeModelFileError(ModelFileError):
    """A pickled model file that names code outside the allowed numpy/scipy/chumpy
    arrays: refused before anything in it runs."""


class PoseFileError(InputError):
    """A pose or motion file that cannot be read or does not fit the model."""


class KeypointFileError(InputError):
    """A 2D keypoint file that cannot be read or has the wrong layout."""


class SplatFileError(InputError):
    """A Gaussian-splat scene file (3DGS ``.ply`` or antimatter15 ``.splat``) that cannot be
    read: a malformed header, missing properties, a truncated body or invalid values."""


class MissingDependencyError(HumanreconError, ImportError):
    """An optional dependency is not installed (or lacks a feature); the message names
    the package and how to install it."""


class TrainingDivergedError(HumanreconError, RuntimeError):
    """The training loss became NaN or infinite; the message names the step and the last
    good checkpoint (which is left on disk)."""
