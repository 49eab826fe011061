# Types shared by every channel: tensors and typed error replies.
#
# Rules for every schema in this folder (NOTE [Schema evolution]): field numbers are never
# reused or renumbered; new fields are appended with a "# since <version>" comment; a reader
# validates lengths, shapes and dtypes where it uses them and answers a malformed message with
# an ErrorReply, never a crash.
@0xf779a392017d7f2e;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("gramrl::wire");

enum DType {
  float32 @0;
  bfloat16 @1;
  float16 @2;
  float64 @3;
  int64 @4;
  int32 @5;
  int8 @6;
  uint8 @7;
  bool @8;
}

# A dense, row-major (C-contiguous) tensor. `data` holds exactly
# product(shape) * elementSize(dtype) bytes in little-endian order. Large payloads are read
# in place from the receive buffer when it is 8-byte aligned (see common/transport/frame_codec.h).
struct Tensor {
  name @0 :Text;
  dtype @1 :DType;
  shape @2 :List(Int64);
  data @3 :Data;
}

enum ErrorCode {
  internal @0;          # a bug or an unexpected failure on the server; not retried
  malformed @1;         # the request could not be decoded or failed validation; not retried
  tooLarge @2;          # the request exceeds a configured size or item limit; not retried
  overloaded @3;        # the server's queue is full; back off and retry (maybe elsewhere)
  deadlineExceeded @4;  # the request's deadline passed before it was computed
  shuttingDown @5;      # the server is draining; retry on another replica
  unsupported @6;       # the server's backend cannot do what was asked
}

struct ErrorReply {
  code @0 :ErrorCode;
  message @1 :Text;
  retryAfterMs @2 :UInt32;  # a hint for overloaded; 0 = use the client's backoff
}
