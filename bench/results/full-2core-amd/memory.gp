# drawn by hop-bench --plot; redraw with: gnuplot memory.gp (in this folder)
set terminal pngcairo size 1100,248 font 'sans,10'
set output 'memory.png'
set title "memory: bytes/task, lower is better\nAMD EPYC, 2 cores, hop 0e0c737" noenhanced
unset key
set style fill solid 0.85 border -1
set grid xtics
set ytics nomirror noenhanced
set yrange [-0.6:3.600000]
set xrange [0:5411.9]
set xlabel "bytes/task (bar: median; whiskers: min and max of the repetitions)" noenhanced
plot 'memory.dat' using (0):0:(0):2:($0-0.35):($0+0.35):5:yticlabels(1) with boxxyerror lc rgb variable, \
     '' using 2:0:3:4 with xerrorbars lc rgb 'black' pt 0, \
     '' using 4:0:6 with labels left offset 1,0 noenhanced
