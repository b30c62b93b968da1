#!/usr/bin/env bash
# Draws the benchmark's PNGs from iopfq_bench --data output with gnuplot:
#   latency_<scenario>.png   latency percentile curves, one line per implementation
#   throughput.png           faults/s against the number of devices
# Usage: bench/plots.sh DATA_DIR OUT_DIR
set -euo pipefail
data=$1 out=$2
impls="iopfq libiopfq iommufd-model urcu-wfcq+lfht ck_ring-mpsc"
for scen in 1x1_g1_busy 8x32_g4_busy 64x32_g4_busy 1x1_g1_block_gap20us 8x32_g4_busy_open90; do
	ls "$data"/lat_"$scen"_*.dat >/dev/null 2>&1 || continue
	floor=pingpong
	case $scen in *block*) floor=uffd ;; esac
	plot=""
	for i in $impls; do
		f="$data/lat_${scen}_$i.dat"
		[ -f "$f" ] && plot+="'$f' using 2:3 with linespoints title '$i', "
	done
	[ -f "$data/floor_$floor.dat" ] &&
		plot+="'$data/floor_$floor.dat' using 2:3 with lines dashtype 2 lw 2 title '$floor floor', "
	gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced font ",10"
set output "$out/latency_$scen.png"
set title "Fault-to-response latency by percentile: ${scen//_/\/}"
set xlabel "percentile"
set ylabel "latency (ns, log scale)"
set logscale y
set grid
set key top left
set xtics ("50" 0.301, "90" 1, "99" 2, "99.9" 3, "99.99" 4, "99.999" 5)
set xrange [0:5.2]
plot ${plot%, }
GP
done
if [ -f "$data/throughput.dat" ]; then
	gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced font ",10"
set output "$out/throughput.png"
set title "Flood throughput against devices (32 credits each, groups of 4, busy-poll, closed loop)"
set xlabel "devices (multiplexed on one producer thread)"
set ylabel "faults per second"
set logscale x 2
set grid
set key outside right
set yrange [0:*]
plot for [i=0:4] "$data/throughput.dat" index i using 1:2 with linespoints title columnheader(1)
GP
fi
