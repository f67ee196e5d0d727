import sys
sys.path.insert(0,'.')
from pathlib import Path
import tests.test_rtl_stream as T
for key in ["map","pooled","s4_one_layer","inbuf_pooled"]:
    spec=T.STREAM_SPECS[key]
    c,xs=T.stream_inputs(spec,3)
    o=T.run_stream(T._built(spec),spec.name,c.model,xs,spec.mode,Path(f"/tmp/srtl_dbg_{key}"))
    r=o.ref
    print(key, "starts",r.starts,"dones",r.dones,"rtl",o.done_log,"last_starts",r.last_starts,"ends",[e[-1] for e in r.layer_ends], "bursts", r.store_bursts[:3])
