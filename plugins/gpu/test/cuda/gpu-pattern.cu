// gpu-pattern: a small CUDA program for checking GPU checkpoint/restore on a real GPU (NOT built or run by the test
// command: it needs nvcc and an NVIDIA GPU; run-gpu-check.sh drives it).
//
// It fills MiB mebibytes of device memory with a pattern derived from each word's index and a seed, then keeps
// checking the whole buffer on the GPU, counting passes and mismatches in device variables. Every 200 ms it prints
//   step <passes> bad <mismatches>
// so after a dump and restore the pass counter must go on from where it was (device state kept) with 0 mismatches.
//
// Usage: gpu-pattern [MiB (default 1024)] [seed (default 0x5eed1234)]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

__device__ unsigned long long d_steps;
__device__ unsigned long long d_bad;

__host__ __device__ inline uint32_t pattern(size_t i, uint32_t seed) {
  return static_cast<uint32_t>(i * 2654435761ull) ^ seed;
}

__global__ void fill(uint32_t *buf, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    buf[i] = pattern(i, seed);
}

__global__ void check(const uint32_t *buf, size_t n, uint32_t seed) {
  unsigned long long bad = 0;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    if (buf[i] != pattern(i, seed)) bad++;
  if (bad) atomicAdd(&d_bad, bad);
  if (blockIdx.x == 0 && threadIdx.x == 0) atomicAdd(&d_steps, 1ull);
}

static void ok(cudaError_t rc, const char *what) {
  if (rc == cudaSuccess) return;
  printf("cuda error in %s: %s\n", what, cudaGetErrorString(rc));
  fflush(stdout);
  exit(2);
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoull(argv[1], nullptr, 10) : 1024;
  uint32_t seed = argc > 2 ? static_cast<uint32_t>(strtoul(argv[2], nullptr, 0)) : 0x5eed1234u;
  size_t words = mib * 1024 * 1024 / sizeof(uint32_t);
  uint32_t *buf = nullptr;
  ok(cudaMalloc(&buf, words * sizeof(uint32_t)), "cudaMalloc");
  fill<<<1024, 256>>>(buf, words, seed);
  ok(cudaDeviceSynchronize(), "fill");
  printf("ready %zu bytes\n", words * sizeof(uint32_t));
  fflush(stdout);
  for (;;) {
    check<<<1024, 256>>>(buf, words, seed);
    ok(cudaDeviceSynchronize(), "check");
    unsigned long long steps = 0, bad = 0;
    ok(cudaMemcpyFromSymbol(&steps, d_steps, sizeof steps), "read steps");
    ok(cudaMemcpyFromSymbol(&bad, d_bad, sizeof bad), "read bad");
    printf("step %llu bad %llu\n", steps, bad);
    fflush(stdout);
    usleep(200000);
  }
}
