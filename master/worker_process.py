"""Entry point of one worker process (started by the supervisor)."""
import argparse
import logging

from common.config import load_config
from .worker import run_worker_process

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    for noisy in ("pika", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    run_worker_process(load_config("master", args.config), args.threads)
