"""Writes checksummed.parquet for tests/parquet.rs: 200 rows, page CRCs on (arrow-rs
60 writes none), uncompressed and without dictionaries so that each column chunk is one
header and one data page. Run: pip install pyarrow && python3 make_checksummed.py"""

import pyarrow as pa
import pyarrow.parquet as pq

n = 200
table = pa.table(
    {
        "id": pa.array(range(n), pa.int64()),
        "score": pa.array([i * 0.25 for i in range(n)], pa.float64()),
        "site": pa.array([f"site{i % 7}" for i in range(n)], pa.string()),
    }
)
pq.write_table(
    table,
    "checksummed.parquet",
    compression="NONE",
    use_dictionary=False,
    write_page_checksum=True,
)
