# Weights channel: learner rank 0 -> rollout actors.
# Actors learn of a new version from the lease grants (rollout.capnp) and fetch it from learner
# rank 0's weights ROUTER, chunk by chunk (fetch -> manifest, fetch -> chunk): NOTE [Weight sync]
# in learner/rlhf/experience_server.h. announce is kept for a PUB announcement channel.
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
    fetch @4 :WeightFetch;   # since issue 11: actor -> learner
    error @5 :Text;          # since issue 11: learner -> actor, the fetch cannot be served
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

# since issue 11. chunkIndex 0xFFFFFFFF asks for the manifest of the newest version; otherwise
# chunk `chunkIndex` of `version` (an error if that version is no longer the newest: start over).
struct WeightFetch {
  version @0 :UInt64;
  chunkIndex @1 :UInt32;
}
