// Work asked for many times in one turn of the event loop, done once in the next:
// the disk tier's writer and reader threads each get one message per turn with
// everything queued meanwhile, not one per write or read.

/** A function that schedules `run` for the next turn (setImmediate), once however often it is called before then. */
export function perTurn(run: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      run();
    });
  };
}
