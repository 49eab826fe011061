# Weights channel: learner rank 0 -> rollout actors.
# The learner announces each new version on a PUB socket. The tensors themselves travel by NCCL
# broadcast on GPUs (the manifest says what to expect, in order) or, on CPU, as WeightChunks.
@0xeca0ae1d6fb8bd2a;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("gramrl::wire");

using Common = import "common.capnp";

struct WeightsMessage {
  seq @0 :UInt64;
  union {
    announce @1 :VersionAnnouncement;
    manifest @2 :WeightManifest;
    chunk @3 :WeightChunk;
  }
}

struct VersionAnnouncement {
  version @0 :UInt64;
  publishedUnixMs @1 :UInt64;
  manifestDigest @2 :UInt64;  # a hash of the manifest, to detect a changed parameter layout
}

enum WeightTransport {
  nccl @0;   # tensors are broadcast in the "weights" process group in manifest order
  zmq @1;    # tensors follow as WeightChunk messages on this channel
}

struct TensorSpec {
  name @0 :Text;
  dtype @1 :Common.DType;
  shape @2 :List(Int64);
  offsetBytes @3 :UInt64;   # position in the flattened, concatenated parameter buffer
  sizeBytes @4 :UInt64;
}

struct WeightManifest {
  version @0 :UInt64;
  transport @1 :WeightTransport;
  tensors @2 :List(TensorSpec);
  totalBytes @3 :UInt64;
  chunkCount @4 :UInt32;    # zmq transport: how many WeightChunk messages follow
}

struct WeightChunk {
  version @0 :UInt64;
  index @1 :UInt32;         # 0 .. chunkCount-1
  tensors @2 :List(Common.Tensor);
}
