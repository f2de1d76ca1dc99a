"""Every queue, exchange, actor and routing-key name, defined once.

Roles never spell these strings themselves: a node sends a job to the
master by actor name without importing the master.
"""

# dramatiq queues and actors (jobs)
INGEST_QUEUE = "obsy.ingest"
INGEST_FRAME_ACTOR = "ingest_frame"
# science jobs run on their own queue: a long reconstruction must not hold up ingest
SCIENCE_QUEUE = "obsy.science"
SOLEX_ACTOR = "solex_reconstruct"
PHOTOMETRY_ACTOR = "photometry_run"
TRANSIT_ACTOR = "transit_fit"
FINAL_STACK_ACTOR = "final_stack"

# processing jobs triggered by ingest (calibration library, live stack)
PROCESSING_QUEUE = "obsy.processing"
REBUILD_MASTER_ACTOR = "rebuild_master"
UPDATE_LIVE_STACK_ACTOR = "update_live_stack"

# each telescope node consumes its own schedule queue
RUN_SCHEDULE_ACTOR = "run_schedule"


def schedule_queue(node: str) -> str:
    return f"obsy.telescope.{node}"


# pika topic exchange for events; routing keys are <role>.<node>.<kind>
EVENTS_EXCHANGE = "obsy.events"
FRAME_INGESTED_KEY = "master.frame.ingested"
FRAME_REJECTED_KEY = "master.frame.rejected"
MASTER_BUILT_KEY = "master.calibration.master_built"
LIVE_STACK_KEY = "master.stack.live"


def heartbeat_key(role: str, node: str) -> str:
    return f"{role}.{node}.heartbeat"


HEARTBEAT_PATTERN = "*.*.heartbeat"
JOB_PROGRESS_PATTERN = "telescope.*.job"
SAFETY_PATTERN = "observatory.*.safety"


def job_progress_key(node: str) -> str:
    return f"telescope.{node}.job"


def safety_key(node: str) -> str:
    return f"observatory.{node}.safety"


ROOF_PATTERN = "observatory.*.roof"
CLOUDS_PATTERN = "observatory.*.clouds"


def clouds_key(node: str) -> str:
    return f"observatory.{node}.clouds"


WEATHER_PATTERN = "observatory.*.weather"


def weather_key(node: str) -> str:
    return f"observatory.{node}.weather"

MOUNT_PATTERN = "telescope.*.mount"


def roof_key(node: str) -> str:
    return f"observatory.{node}.roof"


def mount_key(node: str) -> str:
    return f"telescope.{node}.mount"


# Commands name the node they are for: <sender role>.<addressee node>.<kind>.
ROOF_RESULT_PATTERN = "observatory.*.roof_result"


def roof_command_key(node: str) -> str:
    return f"master.{node}.roof_command"


def roof_result_key(node: str) -> str:
    return f"observatory.{node}.roof_result"


PARK_REQUEST_PATTERN = "observatory.*.park_request"


def park_request_key(observatory_node: str) -> str:
    # The telescope node it is for is named in the message.
    return f"observatory.{observatory_node}.park_request"


# where a node drops a frame before claiming it with an ingest job
def incoming_prefix(node: str) -> str:
    """Where a telescope node uploads; its object-store key may write nothing else."""
    return f"incoming/{node}/"


def incoming_key(node: str, sha256: str, suffix: str = ".fits") -> str:
    return f"{incoming_prefix(node)}{sha256}{suffix}"


INCOMING_SUFFIXES = (".fits", ".ser")  # FITS frames, SER videos
