#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/errors.h"
#include "common/tensor/tensor_wire.h"
#include "common/transport/message_socket.h"
#include "schemas/weights.capnp.h"

namespace gramrl {
namespace {

using transport::Channel;
using transport::IncomingMessage;
using transport::OutgoingMessage;

// Encodes a weights chunk holding `tensors`, decodes the frames as a receiver would.
std::shared_ptr<const IncomingMessage> roundTrip(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                                 std::vector<bool>* referenced = nullptr) {
  OutgoingMessage out;
  auto chunk = out.initRoot<wire::WeightsMessage>().initChunk();
  auto list = chunk.initTensors(static_cast<unsigned>(tensors.size()));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const bool ref = writeTensor(list[static_cast<unsigned>(i)], tensors[i].first, tensors[i].second, out);
    if (referenced) referenced->push_back(ref);
  }
  transport::Frames frames = transport::encodeFrames(Channel::kWeights, std::move(out));
  return std::make_shared<const IncomingMessage>(
      transport::decodeFrames(Channel::kWeights, std::move(frames), transport::ReceiveLimits{}));
}

TEST(TensorWire, EveryDtypeRoundTripsExactly) {
  torch::manual_seed(7);
  const std::vector<at::ScalarType> types{at::kFloat, at::kBFloat16, at::kHalf, at::kDouble, at::kLong,
                                          at::kInt,   at::kChar,     at::kByte, at::kBool};
  for (auto type : types) {
    at::Tensor t = (torch::randn({3, 5}) * 50).to(type);
    auto msg = roundTrip({{"w", t}});
    at::Tensor back = readTensor(msg->getRoot<wire::WeightsMessage>().getChunk().getTensors()[0], msg);
    EXPECT_EQ(back.scalar_type(), type);
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_TRUE(torch::equal(back, t)) << c10::toString(type);
  }
}

TEST(TensorWire, ScalarsEmptyAndNonContiguousTensors) {
  at::Tensor scalar = torch::tensor(3.5);
  at::Tensor empty = torch::zeros({0, 4});
  at::Tensor transposed = torch::arange(12, torch::kFloat).reshape({3, 4}).t();  // not contiguous
  auto msg = roundTrip({{"s", scalar}, {"e", empty}, {"t", transposed}});
  auto list = msg->getRoot<wire::WeightsMessage>().getChunk().getTensors();
  at::Tensor s = readTensor(list[0], msg), e = readTensor(list[1], msg), t = readTensor(list[2], msg);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<double>(), 3.5);
  EXPECT_EQ(e.sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(torch::equal(t, transposed));
}

TEST(TensorWire, AlignedTensorsAreReferencedAndReadInPlace) {
  at::Tensor big = torch::randn({256, 1024});       // 1 MiB, 64-byte aligned by torch's allocator
  at::Tensor odd = torch::ones({3}, torch::kHalf);  // 6 bytes: not a multiple of 8, copied
  std::vector<bool> referenced;
  auto msg = roundTrip({{"big", big}, {"odd", odd}}, &referenced);
  EXPECT_EQ(referenced, (std::vector<bool>{true, false}));
  at::Tensor back = readTensor(msg->getRoot<wire::WeightsMessage>().getChunk().getTensors()[0], msg);
  EXPECT_TRUE(torch::equal(back, big));
  // In place: the tensor's bytes lie inside one of the received frames.
  const auto* p = static_cast<const char*>(back.data_ptr());
  bool inside = false;
  for (const auto& f : msg->frames()) {
    const auto* b = static_cast<const char*>(f.data());
    inside = inside || (p >= b && p + back.nbytes() <= b + f.size());
  }
  EXPECT_TRUE(inside);
}

TEST(TensorWire, TensorOutlivesTheMessageHandle) {
  at::Tensor t = torch::arange(1024, torch::kFloat);
  at::Tensor back;
  {
    auto msg = roundTrip({{"x", t}});
    back = readTensor(msg->getRoot<wire::WeightsMessage>().getChunk().getTensors()[0], msg);
  }  // the last handle of the message is dropped here; the tensor keeps the frames alive
  EXPECT_TRUE(torch::equal(back, t));
}

TEST(TensorWire, InprocSendSharesTheSendersMemory) {
  transport::ZmqContext context;
  transport::MessageSocket pull(context, transport::SocketType::kPull, Channel::kWeights);
  pull.bind("inproc://tensor-wire-test");
  transport::MessageSocket push(context, transport::SocketType::kPush, Channel::kWeights);
  push.connect("inproc://tensor-wire-test");
  at::Tensor t = torch::randn({512, 512});
  const void* sent_ptr = t.data_ptr();
  {
    OutgoingMessage out;
    writeTensor(out.initRoot<wire::WeightsMessage>().initChunk().initTensors(1)[0], "w", t, out);
    ASSERT_TRUE(push.send(std::move(out), transport::deadlineAfter(std::chrono::seconds(5))));
  }
  auto got = pull.recv(transport::deadlineAfter(std::chrono::seconds(5)));
  ASSERT_TRUE(got && got->ok());
  auto msg = std::make_shared<const IncomingMessage>(std::move(got->message));
  at::Tensor back = readTensor(msg->getRoot<wire::WeightsMessage>().getChunk().getTensors()[0], msg);
  EXPECT_EQ(back.data_ptr(), sent_ptr);  // no copy anywhere on the way
  EXPECT_TRUE(torch::equal(back, t));
}

TEST(TensorWire, MalformedTensorsAreProtocolErrors) {
  auto make = [](auto fill) {
    OutgoingMessage out;
    auto t = out.initRoot<wire::WeightsMessage>().initChunk().initTensors(1)[0];
    t.setName("bad");
    fill(t);
    return std::make_shared<const IncomingMessage>(transport::decodeFrames(
        Channel::kWeights, transport::encodeFrames(Channel::kWeights, std::move(out)), transport::ReceiveLimits{}));
  };
  auto expectError = [](const std::shared_ptr<const IncomingMessage>& msg, const std::string& needle) {
    try {
      readTensor(msg->getRoot<wire::WeightsMessage>().getChunk().getTensors()[0], msg);
      ADD_FAILURE() << "expected ProtocolError containing: " << needle;
    } catch (const ProtocolError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expectError(make([](wire::Tensor::Builder t) {
                t.setDtype(wire::DType::FLOAT32);
                t.initShape(2).set(0, 3);
                t.getShape().set(1, 4);
                t.initData(40);
              }),
              "tensor 'bad': shape and dtype need 12 elements of 4 bytes, the data has 40 bytes");
  expectError(make([](wire::Tensor::Builder t) {
                t.setDtype(wire::DType::FLOAT32);
                t.initShape(1).set(0, -4);
              }),
              "tensor 'bad' has a negative dimension -4");
  expectError(make([](wire::Tensor::Builder t) {
                auto s = t.initShape(3);
                s.set(0, int64_t{1} << 40);
                s.set(1, int64_t{1} << 40);
                s.set(2, 2);
              }),
              "overflows 64 bits");
  expectError(make([](wire::Tensor::Builder t) { t.initShape(9); }), "tensor 'bad' has rank 9, more than the limit 8");
}

}  // namespace
}  // namespace gramrl
