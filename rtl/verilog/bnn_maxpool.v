// 2x2 max-pool of a layer's output bits (docs/architecture.md 1.2, docs/timing.md 2).
// The epilogue writes output position (y, x) into the pooled word (y/2, x/2) of the output set,
// banked and addressed as the pooled map the next layer reads: bank ((y/2) mod 3, (x/2) mod 3),
// address ((y/2) / 3) * w3n + ((x/2) / 3) * nblk, with w3n the pooled map's (the layer
// descriptor's w3n_out for a pooled layer). The first of the four positions in raster order
// (y and x even) writes the word, the other three OR into it: the epilogue reads the old word
// on the output set's port B, which nothing else uses while a layer without predictor runs, and
// forwards the two writes still in flight. An odd last row or column is not written.
// This module walks the output positions in raster order (a pooled layer has no predictor, so
// the epilogue's positions are the raster) and gives each one's pooled bank and base address.
`default_nettype none
module bnn_maxpool #(
    parameter CW = 8,
    parameter AAW = 8,
    parameter NCW = 4
) (
    input wire clk,
    input wire init,
    input wire adv,  // the epilogue leaves the current position
    input wire [CW-1:0] h_out,
    input wire [CW-1:0] w_out,
    input wire [NCW-1:0] nblk,
    input wire [AAW-1:0] w3n,  // of the pooled map
    output wire first,  // (y, x) both even: writes the word instead of OR-ing into it
    output wire drop,  // odd last row or column: not written
    output wire [3:0] bank,
    output wire [AAW-1:0] base
);
    reg [CW-1:0] y, x;
    reg py, px;  // parities of y and x
    reg [1:0] ym, xm;  // (y/2) mod 3, (x/2) mod 3
    reg [AAW-1:0] prow, pcol;  // ((y/2) / 3) * w3n, ((x/2) / 3) * nblk
    wire row_end = (x == w_out - 1'b1);
    wire map_end = row_end && (y == h_out - 1'b1);
    assign first = !py && !px;
    assign drop = (h_out[0] && y == h_out - 1'b1) || (w_out[0] && row_end);
    assign bank = {2'b00, ym} * 4'd3 + {2'b00, xm};
    assign base = prow + pcol;
`ifndef SYNTHESIS
    initial begin
        y = 0; x = 0; py = 0; px = 0; ym = 0; xm = 0; prow = 0; pcol = 0;
    end
`endif
    always @(posedge clk) begin
        if (init || (adv && map_end)) begin  // every pass walks the map again
            y <= 0; x <= 0; py <= 0; px <= 0; ym <= 0; xm <= 0; prow <= 0; pcol <= 0;
        end else if (adv) begin
            if (row_end) begin
                x <= 0; px <= 0; xm <= 0; pcol <= 0;
                y <= y + 1'b1;
                py <= !py;
                if (py) begin  // an odd row ends: the next pooled row
                    if (ym == 2'd2) begin
                        ym <= 2'd0;
                        prow <= prow + w3n;
                    end else ym <= ym + 1'b1;
                end
            end else begin
                x <= x + 1'b1;
                px <= !px;
                if (px) begin  // an odd column ends: the next pooled column
                    if (xm == 2'd2) begin
                        xm <= 2'd0;
                        pcol <= pcol + {{(AAW - NCW) {1'b0}}, nblk};
                    end else xm <= xm + 1'b1;
                end
            end
        end
    end
endmodule
`default_nettype wire
