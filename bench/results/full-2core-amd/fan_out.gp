# drawn by hop-bench --plot; redraw with: gnuplot fan_out.gp (in this folder)
set terminal pngcairo size 1100,312 font 'sans,10'
set output 'fan_out.png'
set title "fan-out: ms/fan-out, lower is better\nAMD EPYC, 2 cores, hop 0e0c737" noenhanced
unset key
set style fill solid 0.85 border -1
set grid xtics
set ytics nomirror noenhanced
set yrange [-0.6:5.600000]
set xrange [0.751344:3344.62]
set xlabel "ms/fan-out, log scale (bar: median; whiskers: min and max of the repetitions)" noenhanced
set logscale x
plot 'fan_out.dat' using (0.751344):0:(0.751344):2:($0-0.35):($0+0.35):5:yticlabels(1) with boxxyerror lc rgb variable, \
     '' using 2:0:3:4 with xerrorbars lc rgb 'black' pt 0, \
     '' using 4:0:6 with labels left offset 1,0 noenhanced
