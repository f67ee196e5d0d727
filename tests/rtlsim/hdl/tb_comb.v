// Test wrapper: popcounts and the bank-to-tap rotation, side by side.
`default_nettype none
module tb_comb (
    input wire [63:0] v64,
    output wire [6:0] c64,
    input wire [8:0] v9,
    output wire [3:0] c9,
    input wire [35:0] bank,
    input wire [1:0] ym,
    input wire [1:0] xm,
    output wire [35:0] tap
);
    bnn_popcount #(.N(64), .OW(7)) u_p64 (.v(v64), .cnt(c64));
    bnn_popcount #(.N(9), .OW(4)) u_p9 (.v(v9), .cnt(c9));
    bnn_rot9 #(.X(4)) u_rot (.bank(bank), .ym(ym), .xm(xm), .tap(tap));
endmodule
`default_nettype wire
