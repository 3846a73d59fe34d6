#!/bin/bash
A="--input 1 --hidden 128 --seq 16 --batch 32 --head last --loss mse --out 1"
run() { local m=$1; shift; env "$@" /work/main/build/apps/unroll bench --model $m $A --threads 2 --steps 40 --warmup 2 --json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print(round(d['median_ms'],2), 'p90', round(d['p90_ms'],2), end=' ')"; }
for m in cifg lstm; do
  echo -n "$m a LOADED: PASSIVE "; run $m OMP_WAIT_POLICY=PASSIVE
  for sc in 1000 10000; do echo -n "| spin$sc "; run $m GOMP_SPINCOUNT=$sc OMP_WAIT_POLICY=; done
  echo -n "| default "; run $m OMP_WAIT_POLICY=
  echo -n "| ACTIVE "; run $m OMP_WAIT_POLICY=ACTIVE
  echo
done
