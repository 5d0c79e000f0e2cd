#!/usr/bin/env python3
"""A rendezvous server for Vowpal Wabbit's AllReduce (`--span_server`), for benchmarks.

The pip `vowpalwabbit` package has VW's AllReduce client but not the `spanning_tree`
daemon that pairs the nodes, so this is a small server speaking the same protocol: each
node sends its job id, the node count and its node number (three native 8-byte integers)
and gets an ok flag (4 bytes); once every node of a job has connected, each gets its child
count (2 bytes), answers with the port it listens on (2 bytes), and gets its parent's
IPv4 address and port (the root gets all ones). Nodes are ordered as VW's daemon orders
them, by address then by connection, and joined as a balanced binary tree.

Usage: vw_span_server.py PORT   (serves until killed)
"""
import math
import socket
import struct
import sys


def tree(count, offset, parent, kids):
    """Lays `count` nodes from `offset` out as a binary tree; returns its root."""
    if count == 1:
        kids[offset] = 0
        return offset
    root = (1 << int(math.floor(math.log2(count)))) - 1
    left = tree(root, offset, parent, kids)
    top = root + offset
    parent[left] = top
    right_count = count - root - 1
    if right_count > 0:
        right = tree(right_count, top + 1, parent, kids)
        parent[right] = top
        kids[top] = 2
    else:
        kids[top] = 1
    return top


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        part = conn.recv(n - len(data))
        if not part:
            raise ConnectionError("node closed the connection")
        data += part
    return data


def serve(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(1024)
    jobs = {}
    while True:
        conn, (host, _) = server.accept()
        nonce, total, node = struct.unpack("=QQQ", recv_exact(conn, 24))
        nodes = jobs.setdefault(nonce, [None] * total)
        ok = node < total and len(nodes) == total and nodes[node] is None
        conn.sendall(struct.pack("=i", int(ok)))
        if not ok:
            conn.close()
            continue
        nodes[node] = (socket.inet_aton(host), conn.fileno(), conn)
        if any(n is None for n in nodes):
            continue
        del jobs[nonce]
        order = sorted(nodes, key=lambda n: (struct.unpack("=I", n[0])[0], n[1]))
        parent, kids = [-1] * total, [0] * total
        parent[tree(total, 0, parent, kids)] = -1
        for (_, _, c), k in zip(order, kids):
            c.sendall(struct.pack("=H", k))
        ports = [struct.unpack("=H", recv_exact(c, 2))[0] for (_, _, c) in order]
        for i, (_, _, c) in enumerate(order):
            if parent[i] >= 0:
                c.sendall(order[parent[i]][0] + struct.pack("=H", ports[parent[i]]))
            else:
                c.sendall(struct.pack("=Ii", 0xFFFFFFFF, -1))
            c.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
