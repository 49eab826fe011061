// LibTorch tensors <-> wire::Tensor (schemas/common.capnp), without copies where possible.
//
// NOTE [Zero-copy tensors]
// Sending: a contiguous CPU tensor whose data is 8-byte aligned and whose byte size is a
// multiple of 8 becomes its own Cap'n Proto segment by reference (Orphanage::
// referenceExternalData); the OutgoingMessage keeps the tensor's storage alive until libzmq has
// sent the frame. Anything else is copied into the message once.
// Receiving: the tensor wraps the Data bytes in place (torch::from_blob) and holds a reference
// to the IncomingMessage, so the zmq frame lives as long as any tensor made from it. Bytes that
// are not aligned for the dtype are copied. On inproc:// the receiver's tensor then shares the
// sender's memory; treat received tensors as read-only.
//
// Thread safety: free functions; the message objects they take follow their own rules.
#pragma once

#include <memory>
#include <string>

#include <ATen/Tensor.h>

#include "common/transport/frame_codec.h"
#include "schemas/common.capnp.h"

namespace gramrl {

// Limits for tensors read from peers.
inline constexpr unsigned kMaxTensorRank = 8;

// Wire dtype <-> torch scalar type; throws ProtocolError for a dtype torch cannot hold and
// InternalError for a torch type the wire does not carry.
wire::DType toWireDType(at::ScalarType type);
at::ScalarType fromWireDType(wire::DType dtype);

// Writes `tensor` (any device, any layout: made contiguous on CPU first) into `out`, referencing
// its memory when NOTE [Zero-copy tensors] allows. `message` must be the message `out` belongs to.
// Returns whether the data was referenced (true) or copied (false).
bool writeTensor(wire::Tensor::Builder out, const std::string& name, const at::Tensor& tensor,
                 transport::OutgoingMessage& message);

// Reads a tensor from a received message, validating dtype, rank (<= kMaxTensorRank), that every
// dimension is >= 0 and that the byte size matches the shape exactly; throws ProtocolError
// naming the tensor otherwise. The result keeps `message` alive (see NOTE [Zero-copy tensors]).
at::Tensor readTensor(wire::Tensor::Reader in, const std::shared_ptr<const transport::IncomingMessage>& message);

}  // namespace gramrl
