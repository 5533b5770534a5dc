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
