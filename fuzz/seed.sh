#!/bin/sh
# Seed corpora for the fuzz targets: the test models (small ones whole) and the hostile corpus.
set -eu
cd "$(dirname "$0")"
mkdir -p corpus/profile_bytes corpus/checkpoint_bytes
cp ../tests/data/bad/*.onnx corpus/profile_bytes/
for f in ../tests/data/models/resnet18.onnx ../tests/data/models/mobilenet_v2.onnx ../tests/data/extra/squeezenet1_1.onnx ../tests/data/extra/gpt2-tiny.onnx ../tests/data/extra/llama-gqa-tiny-dynamo.onnx; do
    cp "$f" corpus/profile_bytes/
done
# checkpoint_bytes reads its first byte as the format: even = safetensors, odd = GGUF (the
# target adds the GGUF magic, so the seed drops it).
for f in ../tests/data/bad/*.safetensors; do
    { printf '\000'; cat "$f"; } > "corpus/checkpoint_bytes/$(basename "$f")"
done
for f in ../tests/data/bad/*.gguf; do
    { printf '\001'; tail -c +5 "$f"; } > "corpus/checkpoint_bytes/$(basename "$f")"
done
# training reads its first four bytes as the options (optimizer, precision, recomputation,
# GPUs, ZeRO stage, tokens, peak, MFU): each seed model once with all-zero options (Adam,
# fp32, no recomputation, 1 GPU) and once with bf16-mixed, full recomputation, ZeRO 3 on 8
# GPUs and a time estimate.
mkdir -p corpus/training corpus/trace corpus/lying_sizes
for f in ../tests/data/models/resnet18.onnx ../tests/data/extra/gpt2-tiny.onnx ../tests/data/traces/*.json ../tests/data/bad/*.safetensors; do
    b=$(basename "$f")
    { printf '\000\000\000\000'; cat "$f"; } > "corpus/training/0-$b"
    { printf '\005\342\110\003'; cat "$f"; } > "corpus/training/1-$b"
done
# trace: the traces of the tests (odd-length inputs also train).
cp ../tests/data/traces/*.json corpus/trace/
# lying_sizes builds its model from the bytes: a few all-zero and all-0xff starts.
for n in 16 64 256; do
    head -c "$n" /dev/zero > "corpus/lying_sizes/zero-$n"
    head -c "$n" /dev/zero | tr '\000' '\377' > "corpus/lying_sizes/ff-$n"
done
