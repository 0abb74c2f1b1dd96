"""A realistic heap for the benchmarks: about `sys.argv[1]` MiB of dicts with strings, floats and lists.
Prints "ready" once built, then idles."""
import sys, time, random
random.seed(1)
target = int(sys.argv[1]) * 1024 * 1024
names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
heap, approx = [], 0
while approx < target:
    i = len(heap)
    heap.append({"id": i, "name": random.choice(names) + str(i), "score": random.random() * 100,
                 "tags": [random.choice(names) for _ in range(3)], "payload": ("row-%d;" % i) * 8})
    approx += 700
print("ready", flush=True)
n = 0
while True:
    n += 1
    time.sleep(0.2)
