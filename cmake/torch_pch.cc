// Translation unit that carries the precompiled <torch/torch.h> (see NOTE [Torch precompiled header]).
