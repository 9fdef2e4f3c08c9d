"""A tqdm progress bar as a Context progress callback (tqdm is optional: Debian's python3-tqdm)."""

import threading

try:
    import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the machine
    _tqdm = None


def available():
    return _tqdm is not None


class TqdmProgress:
    """progress(node, tiles_done, tiles_total): one bar per run (tile tasks of every node), closed when the
    run's last task is done. Called on the engine's threads, one call at a time."""

    def __init__(self, desc="eoscale", **tqdm_kwargs):
        if _tqdm is None:
            raise ImportError("progress=True needs tqdm (Debian: python3-tqdm)")
        self._desc = desc
        self._kwargs = tqdm_kwargs
        self._bar = None
        self._lock = threading.Lock()

    def __call__(self, node, done, total):
        with self._lock:
            if self._bar is not None and (self._bar.total != total or done < self._bar.n):
                self._bar.close()  # a new run
                self._bar = None
            if self._bar is None:
                self._bar = _tqdm.tqdm(total=total, desc=self._desc, unit="tile", **self._kwargs)
            self._bar.set_postfix_str(node, refresh=False)
            self._bar.update(done - self._bar.n)
            if done >= total:
                self._bar.close()
                self._bar = None
        return True

    def close(self):
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
