"""KStars/EKOS files: scheduler lists (``.esl``) and sequence queues (``.esq``).

In ``common`` because the master exports them (the portal's download) and the telescope node
runs them (the EKOS backend)."""
from .codec import read_bytes, read_file, read_scheduler_list, read_sequence_queue, to_xml, write_file
from .model import (
    Calibration, Condition, Constraints, ErrorHandling, Frame, Prefix, Procedure, SchedulerJob,
    SchedulerList, SequenceJob, SequenceQueue, Toggle, to_dict,
)
from .xmlio import MAX_FILE_BYTES, EkosFileError, Extra, ExtraAttr, fmt_number

__all__ = [
    "Calibration", "Condition", "Constraints", "EkosFileError", "ErrorHandling", "Extra", "ExtraAttr",
    "Frame", "MAX_FILE_BYTES", "Prefix", "Procedure", "SchedulerJob", "SchedulerList", "SequenceJob",
    "SequenceQueue", "Toggle", "fmt_number", "read_bytes", "read_file", "read_scheduler_list",
    "read_sequence_queue", "to_dict", "to_xml", "write_file",
]
